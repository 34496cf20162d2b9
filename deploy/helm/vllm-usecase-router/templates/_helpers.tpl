{{- define "vur.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names carry a suffix (-redis, -vllm-vision); 40 characters leaves room within 63. */}}
{{- define "vur.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Selector labels: (dict "ctx" $ "component" "router"). The component keeps the router's
     selectors (Service, PDB, HPA) off the Redis and vLLM pods of the same release. */}}
{{- define "vur.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vur.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "vur.labels" -}}
{{ include "vur.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "vur.redisName" -}}
{{- printf "%s-redis" (include "vur.fullname" .) }}
{{- end }}

{{/* (dict "ctx" $ "key" "agent") */}}
{{- define "vur.vllmName" -}}
{{- printf "%s-vllm-%s" (include "vur.fullname" .ctx) .key | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vur.configName" -}}
{{- printf "%s-config" (include "vur.fullname" .) }}
{{- end }}
