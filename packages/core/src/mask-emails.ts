const EMAIL_LIKE = /[^\s@"'<>(),;:[\]]+@[^\s@"'<>(),;:[\]]+/g;

/**
 * Masks every e-mail address in a text (`<email>`). Targets quote addresses in their error
 * messages, and those messages are stored and shown as delivery errors: no personal data there.
 */
export function maskEmails(text: string): string {
  return text.replace(EMAIL_LIKE, "<email>");
}
