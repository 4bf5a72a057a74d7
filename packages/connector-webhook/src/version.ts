/** This package's version (checked against package.json by a test); sent in the `user-agent`. */
export const VERSION = "0.1.0";
