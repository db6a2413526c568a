{{/* Names and labels. */}}
{{- define "langfuse-cpp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "langfuse-cpp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "langfuse-cpp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "langfuse-cpp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "web"). */}}
{{- define "langfuse-cpp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "langfuse-cpp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "langfuse-cpp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Service names of the bundled datastores. */}}
{{- define "langfuse-cpp.postgresql.host" -}}{{ include "langfuse-cpp.fullname" . }}-postgresql{{- end -}}
{{- define "langfuse-cpp.redis.host" -}}{{ include "langfuse-cpp.fullname" . }}-redis{{- end -}}
{{- define "langfuse-cpp.clickhouse.host" -}}{{ include "langfuse-cpp.fullname" . }}-clickhouse{{- end -}}

{{/* DATABASE_URL: the bundled PostgreSQL's, or external.databaseUrl. */}}
{{- define "langfuse-cpp.databaseUrl" -}}
{{- if .Values.postgresql.bundled -}}
{{- $auth := .Values.postgresql.auth -}}
{{- printf "postgresql://%s:%s@%s:5432/%s" $auth.username (required "postgresql.auth.password is required when postgresql.bundled is true" $auth.password) (include "langfuse-cpp.postgresql.host" .) $auth.database -}}
{{- else -}}
{{- .Values.external.databaseUrl -}}
{{- end -}}
{{- end -}}

{{/* Fails rendering with the value to set when a required setting is missing. */}}
{{- define "langfuse-cpp.validate" -}}
{{- $existing := .Values.secrets.existingSecret -}}
{{- if not (or .Values.secrets.salt $existing) -}}
{{- fail "secrets.salt (SALT) is required, or name a Secret holding SALT in secrets.existingSecret" -}}
{{- end -}}
{{- if not (or .Values.secrets.nextauthSecret $existing) -}}
{{- fail "secrets.nextauthSecret (NEXTAUTH_SECRET) is required: every web pod signs the UI's session cookies with it, or name a Secret holding NEXTAUTH_SECRET in secrets.existingSecret" -}}
{{- end -}}
{{- if and (not .Values.postgresql.bundled) (not .Values.external.databaseUrl) (not $existing) -}}
{{- fail "postgresql.bundled is false: set external.databaseUrl (DATABASE_URL), or put DATABASE_URL in secrets.existingSecret" -}}
{{- end -}}
{{- if and (not .Values.clickhouse.bundled) (not .Values.external.clickhouse.url) -}}
{{- fail "clickhouse.bundled is false: set external.clickhouse.url (CLICKHOUSE_URL)" -}}
{{- end -}}
{{- if and (not .Values.redis.bundled) (not .Values.external.redis.connectionString) (not .Values.external.redis.host) (not $existing) -}}
{{- fail "redis.bundled is false: set external.redis.connectionString or external.redis.host" -}}
{{- end -}}
{{- if and .Values.redis.bundled (not .Values.redis.auth.password) -}}
{{- fail "redis.auth.password is required when redis.bundled is true" -}}
{{- end -}}
{{- if and .Values.clickhouse.bundled (not .Values.clickhouse.auth.password) -}}
{{- fail "clickhouse.auth.password is required when clickhouse.bundled is true" -}}
{{- end -}}
{{- end -}}

{{/* Pod spec parts shared by web and worker. */}}
{{- define "langfuse-cpp.envFrom" -}}
- configMapRef:
    name: {{ include "langfuse-cpp.fullname" . }}-env
- secretRef:
    name: {{ include "langfuse-cpp.fullname" . }}-env
{{- with .Values.secrets.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end -}}

{{- define "langfuse-cpp.writableVolumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
{{- end -}}

{{- define "langfuse-cpp.writableMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/langfuse
{{- end -}}
