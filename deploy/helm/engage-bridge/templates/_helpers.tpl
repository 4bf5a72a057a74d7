{{/*
The chart name, or nameOverride.
*/}}
{{- define "engage-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources (truncated to 63 characters, the DNS label limit). The
Deployments add -ingest and -worker, so their names keep to 63 characters too.
*/}}
{{- define "engage-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 56 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 56 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 56 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "engage-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "engage-bridge.labels" -}}
helm.sh/chart: {{ include "engage-bridge.chart" . }}
{{ include "engage-bridge.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: engage-bridge
{{- end }}

{{/*
Selector labels shared by both roles.
*/}}
{{- define "engage-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "engage-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of the ingest pods (the Service and the ingest PDB select these).
*/}}
{{- define "engage-bridge.ingestSelectorLabels" -}}
{{ include "engage-bridge.selectorLabels" . }}
app.kubernetes.io/component: ingest
{{- end }}

{{/*
Selector labels of the worker pods.
*/}}
{{- define "engage-bridge.workerSelectorLabels" -}}
{{ include "engage-bridge.selectorLabels" . }}
app.kubernetes.io/component: worker
{{- end }}

{{/*
The ServiceAccount's name.
*/}}
{{- define "engage-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "engage-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret whose keys are the environment of the gateway (the ${NAME} values of the config).
*/}}
{{- define "engage-bridge.secretName" -}}
{{- default (printf "%s-env" (include "engage-bridge.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/*
The image reference: repository@digest, or repository:tag (tag defaults to the chart's appVersion).
*/}}
{{- define "engage-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The config is required to use PostgreSQL: SQLite allows one process per database file, which neither
two Deployments nor replicas nor a rolling update respect.
*/}}
{{- define "engage-bridge.validateConfig" -}}
{{- $store := toString (default "" .Values.config.store) }}
{{- if not (or (hasPrefix "postgres://" $store) (hasPrefix "postgresql://" $store)) }}
{{- fail (printf "config.store must be a PostgreSQL URL (postgres://…), not %q: SQLite allows one gateway process per database file and is not for Kubernetes (use deploy/compose.sqlite.yaml or deploy/systemd for a single machine)" (regexReplaceAll "://[^@/]*@" $store "://****@")) }}
{{- end }}
{{- end }}
