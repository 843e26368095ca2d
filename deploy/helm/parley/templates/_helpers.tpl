{{/*
Helpers shared by the templates. A "component" is one of the four services (ingress, router,
session, attachments) or migrate, postgresql, redis; helpers that need one take
(dict "root" $ "component" "router").
*/}}

{{/* The chart name, for the app.kubernetes.io/name label. */}}
{{- define "parley.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name: the release name, with the chart name added unless the
release name already contains it ("parley" -> "parley", "prod" -> "prod-parley"). */}}
{{- define "parley.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of a component's objects: "<fullname>-<component>". */}}
{{- define "parley.componentName" -}}
{{- printf "%s-%s" (include "parley.fullname" .root) .component -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "parley.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "parley.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: parley
{{- end -}}

{{/* Labels that select the release's pods (the default-deny NetworkPolicy uses them). */}}
{{- define "parley.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels that select one component's pods. */}}
{{- define "parley.selectorLabels" -}}
{{ include "parley.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component's objects. */}}
{{- define "parley.componentLabels" -}}
{{ include "parley.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A component's image: <global.imageRegistry>/<repository>:<tag>. */}}
{{- define "parley.image" -}}
{{- $svc := index .root.Values .component -}}
{{- $tag := $svc.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.global.imageRegistry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.global.imageRegistry) $svc.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $svc.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read PARLEY_PG_URI (and the other secrets) from. */}}
{{- define "parley.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "parley.fullname" .) -}}
{{- end -}}

{{/* The Secret the migration Job reads: the existing one, or a hook-only copy of the URI
(the release's own Secret does not exist yet when a pre-install hook runs). */}}
{{- define "parley.migrateSecretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-migrate" (include "parley.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Percent-encodes the characters that would end a URI's userinfo part. */}}
{{- define "parley.uriEscape" -}}
{{- . | replace "%" "%25" | replace "@" "%40" | replace ":" "%3A" | replace "/" "%2F" | replace "?" "%3F" | replace "#" "%23" | replace " " "%20" | replace "[" "%5B" | replace "]" "%5D" -}}
{{- end -}}

{{/* Host and port of PostgreSQL as the services see it. */}}
{{- define "parley.pgHost" -}}
{{- if .Values.postgresql.inCluster.enabled -}}
{{- include "parley.componentName" (dict "root" . "component" "postgresql") -}}
{{- else -}}
{{- .Values.postgresql.host -}}
{{- end -}}
{{- end -}}

{{- define "parley.pgPort" -}}
{{- if .Values.postgresql.inCluster.enabled -}}5432{{- else -}}{{ .Values.postgresql.port }}{{- end -}}
{{- end -}}

{{/* The PostgreSQL URI the chart puts in its Secret (only when it makes the Secret). */}}
{{- define "parley.pgUri" -}}
{{- if and .Values.postgresql.uri (not .Values.postgresql.inCluster.enabled) -}}
{{- .Values.postgresql.uri -}}
{{- else -}}
{{- $password := required "postgresql.password is required (or set postgresql.uri, or secrets.existingSecret to a Secret of yours)" .Values.postgresql.password -}}
{{- $sslMode := ternary "disable" .Values.postgresql.sslMode .Values.postgresql.inCluster.enabled -}}
{{- printf "postgresql://%s:%s@%s:%s/%s" (include "parley.uriEscape" .Values.postgresql.user) (include "parley.uriEscape" $password) (include "parley.pgHost" .) (include "parley.pgPort" .) .Values.postgresql.database -}}
{{- if $sslMode -}}?sslmode={{ $sslMode }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* host:port of Redis as the router sees it. */}}
{{- define "parley.redisAddress" -}}
{{- if .Values.redis.inCluster.enabled -}}
{{- printf "%s:6379" (include "parley.componentName" (dict "root" . "component" "redis")) -}}
{{- else -}}
{{- printf "%s:%v" .Values.redis.host .Values.redis.port -}}
{{- end -}}
{{- end -}}

{{/* Whether the services migrate on start (see migrations.migrateOnStart). */}}
{{- define "parley.migrateOnStart" -}}
{{- if .Values.migrations.migrateOnStart -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* The in-cluster address (Service DNS name and port) of a service's gRPC API. */}}
{{- define "parley.grpcAddress" -}}
{{- $svc := index .root.Values .component -}}
{{- printf "%s:%v" (include "parley.componentName" .) $svc.grpcPort -}}
{{- end -}}

{{/* The data of a service's ConfigMap: every plain (non-secret) setting as PARLEY_*. */}}
{{- define "parley.configData" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
PARLEY_GRPC_ADDRESS: {{ printf "0.0.0.0:%v" $svc.grpcPort | quote }}
PARLEY_METRICS_ADDRESS: {{ printf "0.0.0.0:%v" $svc.metricsPort | quote }}
PARLEY_PG_POOL_SIZE: {{ $svc.pgPoolSize | quote }}
PARLEY_MIGRATE_ON_START: {{ include "parley.migrateOnStart" $root | quote }}
PARLEY_HEALTH_POLL_INTERVAL: {{ $root.Values.config.healthPollInterval | quote }}
PARLEY_SHUTDOWN_GRACE: {{ printf "%vs" $root.Values.config.shutdownGraceSeconds | quote }}
PARLEY_LOG_LEVEL: {{ $root.Values.config.logLevel | quote }}
{{- if eq .component "ingress" }}
PARLEY_HTTP_ADDRESS: {{ printf "0.0.0.0:%v" $svc.httpPort | quote }}
{{- with $svc.publicBaseUrl }}
PARLEY_PUBLIC_BASE_URL: {{ . | quote }}
{{- end }}
PARLEY_SECRETS_KEY_ID: {{ $svc.secretsKeyId | quote }}
PARLEY_GRAPH_API_BASE_URL: {{ $svc.graphApiBaseUrl | quote }}
PARLEY_GRAPH_API_VERSION: {{ $svc.graphApiVersion | quote }}
PARLEY_TWILIO_API_BASE_URL: {{ $svc.twilioApiBaseUrl | quote }}
PARLEY_PROVIDER_TIMEOUT: {{ $svc.providerTimeout | quote }}
PARLEY_OUTBOUND_THREADS: {{ $svc.outboundThreads | quote }}
PARLEY_MEDIA_EXTRA_ORIGINS: {{ $svc.mediaExtraOrigins | quote }}
PARLEY_SESSION_INGEST_TIMEOUT: {{ $svc.sessionIngestTimeout | quote }}
PARLEY_TWILIO_SHARED_WEBHOOK_PATH: {{ $svc.twilioSharedWebhookPath | quote }}
PARLEY_HTTP_MAX_BODY_BYTES: {{ $svc.httpMaxBodyBytes | quote }}
PARLEY_HTTP_THREADS: {{ $svc.httpThreads | quote }}
PARLEY_CHANNEL_REFRESH_INTERVAL: {{ $svc.channelRefreshInterval | quote }}
PARLEY_SESSION_ADDRESS: {{ include "parley.grpcAddress" (dict "root" $root "component" "session") | quote }}
PARLEY_ATTACHMENTS_ADDRESS: {{ include "parley.grpcAddress" (dict "root" $root "component" "attachments") | quote }}
{{- else if eq .component "router" }}
PARLEY_REDIS_ADDRESS: {{ include "parley.redisAddress" $root | quote }}
PARLEY_REDIS_POOL_SIZE: {{ $svc.redisPoolSize | quote }}
PARLEY_ROUTER_WORKERS: {{ $svc.workers | quote }}
PARLEY_PRESENCE_OFFLINE_AFTER: {{ $svc.presenceOfflineAfter | quote }}
PARLEY_HEARTBEAT_INTERVAL: {{ $svc.heartbeatInterval | quote }}
PARLEY_AGENT_EVENT_STREAM_MAX_LEN: {{ $svc.agentEventStreamMaxLen | quote }}
PARLEY_SESSION_ADDRESS: {{ include "parley.grpcAddress" (dict "root" $root "component" "session") | quote }}
{{- else if eq .component "session" }}
PARLEY_ROUTER_ADDRESS: {{ include "parley.grpcAddress" (dict "root" $root "component" "router") | quote }}
PARLEY_AUTO_CLOSE_INTERVAL: {{ $svc.autoCloseInterval | quote }}
PARLEY_OUTBOX_MAX_BACKOFF: {{ $svc.outboxMaxBackoff | quote }}
PARLEY_INGRESS_ADDRESS: {{ include "parley.grpcAddress" (dict "root" $root "component" "ingress") | quote }}
{{- end }}
{{- range $name, $value := $svc.config }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The env entries every service reads from the Secret, plus the service's extraEnv. */}}
{{- define "parley.secretEnv" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
- name: PARLEY_PG_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "parley.secretName" $root }}
      key: {{ $root.Values.secrets.keys.pgUri }}
{{- if and (eq .component "router") $root.Values.redis.auth.enabled }}
- name: PARLEY_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "parley.secretName" $root }}
      key: {{ $root.Values.secrets.keys.redisPassword }}
{{- end }}
{{- if eq .component "ingress" }}
- name: PARLEY_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "parley.secretName" $root }}
      key: {{ $root.Values.secrets.keys.secretsKey }}
- name: PARLEY_SECRETS_PREVIOUS_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "parley.secretName" $root }}
      key: {{ $root.Values.secrets.keys.secretsPreviousKeys }}
      optional: true
{{- end }}
{{- with $svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod template annotations: config checksum (a changed ConfigMap rolls the pods) and
Prometheus scrape hints. */}}
{{- define "parley.podAnnotations" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
checksum/config: {{ include "parley.configData" . | sha256sum }}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ $svc.metricsPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $svc.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod spec fields every service shares, up to (not including) containers. */}}
{{- define "parley.podCommon" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
automountServiceAccountToken: false
{{- if $root.Values.serviceAccount.create }}
serviceAccountName: {{ include "parley.componentName" . }}
{{- end }}
{{- with $root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ add $root.Values.config.shutdownGraceSeconds $root.Values.config.preStopSleepSeconds 10 }}
{{- if $svc.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "parley.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "parley.selectorLabels" . | nindent 8 }}
{{- end }}
{{- with $svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- end -}}

{{/* The container fields every service shares after its ports and probes. */}}
{{- define "parley.containerCommon" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
envFrom:
  - configMapRef:
      name: {{ include "parley.componentName" . }}
env:
  {{- include "parley.secretEnv" . | nindent 2 }}
resources:
  {{- toYaml $svc.resources | nindent 2 }}
securityContext:
  {{- toYaml $root.Values.containerSecurityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if gt (int $root.Values.config.preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ $root.Values.config.preStopSleepSeconds }}
{{- end }}
{{- end -}}

{{/* Readiness and liveness of a gRPC-only service (router, session, attachments). */}}
{{- define "parley.grpcProbes" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
{{- $live := $root.Values.probes.liveness -}}
{{- $ready := $root.Values.probes.readiness -}}
readinessProbe:
  grpc:
    port: {{ $svc.grpcPort }}
  periodSeconds: {{ $ready.periodSeconds }}
  timeoutSeconds: {{ $ready.timeoutSeconds }}
  failureThreshold: {{ $ready.failureThreshold }}
  successThreshold: {{ $ready.successThreshold }}
livenessProbe:
  {{- if eq $live.mode "grpc" }}
  grpc:
    port: {{ $svc.grpcPort }}
    service: {{ $live.grpcService | quote }}
  {{- else if eq $live.mode "tcp" }}
  tcpSocket:
    port: grpc
  {{- else }}
  {{- fail (printf "probes.liveness.mode must be tcp or grpc, not %q" $live.mode) }}
  {{- end }}
  initialDelaySeconds: {{ $live.initialDelaySeconds }}
  periodSeconds: {{ $live.periodSeconds }}
  timeoutSeconds: {{ $live.timeoutSeconds }}
  failureThreshold: {{ $live.failureThreshold }}
{{- end -}}

{{/* A NetworkPolicy peer selecting one component's pods in the release namespace. */}}
{{- define "parley.peer" -}}
- podSelector:
    matchLabels:
      {{- include "parley.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* The NetworkPolicy peer of the gRPC clients (parley.io/client: "true" pods). */}}
{{- define "parley.clientPeer" -}}
{{- $c := .Values.networkPolicy.clients -}}
- podSelector:
    matchLabels:
      {{- toYaml $c.podLabels | nindent 6 }}
  {{- if $c.namespaceLabels }}
  namespaceSelector:
    matchLabels:
      {{- toYaml $c.namespaceLabels | nindent 6 }}
  {{- else }}
  namespaceSelector: {}
  {{- end }}
{{- end -}}

{{/* The NetworkPolicy peer of Prometheus. */}}
{{- define "parley.prometheusPeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.networkPolicy.prometheusNamespace }}
  {{- with .Values.networkPolicy.prometheusPodLabels }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end -}}

{{/* Egress to DNS. */}}
{{- define "parley.egressDns" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with .Values.networkPolicy.dns.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Egress to PostgreSQL. */}}
{{- define "parley.egressPostgresql" -}}
- ports:
    - port: {{ include "parley.pgPort" . }}
      protocol: TCP
  {{- if .Values.postgresql.inCluster.enabled }}
  to:
    {{- include "parley.peer" (dict "root" . "component" "postgresql") | nindent 4 }}
  {{- else if .Values.postgresql.networkPolicyPeers }}
  to:
    {{- toYaml .Values.postgresql.networkPolicyPeers | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Egress to Redis. */}}
{{- define "parley.egressRedis" -}}
- ports:
    - port: {{ ternary 6379 .Values.redis.port .Values.redis.inCluster.enabled }}
      protocol: TCP
  {{- if .Values.redis.inCluster.enabled }}
  to:
    {{- include "parley.peer" (dict "root" . "component" "redis") | nindent 4 }}
  {{- else if .Values.redis.networkPolicyPeers }}
  to:
    {{- toYaml .Values.redis.networkPolicyPeers | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Egress to the internet (provider APIs and media URLs). */}}
{{- define "parley.egressInternet" -}}
{{- $i := .Values.networkPolicy.internet -}}
- to:
    - ipBlock:
        cidr: {{ $i.cidr }}
        {{- with $i.except }}
        except:
          {{- toYaml . | nindent 10 }}
        {{- end }}
  ports:
    {{- range $i.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end -}}

{{/* Egress to another service's gRPC port. */}}
{{- define "parley.egressGrpc" -}}
{{- $svc := index .root.Values .component -}}
- ports:
    - port: {{ $svc.grpcPort }}
      protocol: TCP
  to:
    {{- include "parley.peer" . | nindent 4 }}
{{- end -}}

{{/* Ingress from given components (list "session" ...) and the clients to a service's gRPC
port. */}}
{{- define "parley.ingressGrpc" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .component -}}
- ports:
    - port: {{ $svc.grpcPort }}
      protocol: TCP
  from:
    {{- range .callers }}
    {{- include "parley.peer" (dict "root" $root "component" .) | nindent 4 }}
    {{- end }}
    {{- include "parley.clientPeer" $root | nindent 4 }}
{{- end -}}

{{/* Ingress from Prometheus to a service's metrics port. */}}
{{- define "parley.ingressMetrics" -}}
{{- $svc := index .root.Values .component -}}
- ports:
    - port: {{ $svc.metricsPort }}
      protocol: TCP
  from:
    {{- include "parley.prometheusPeer" .root | nindent 4 }}
{{- end -}}
