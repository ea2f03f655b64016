{{/*
Helpers. The name helpers use the constant chart name "alembic-sidecar" (not .Chart.Name)
and only .Values/.Release, so they give the same answer when an app chart includes the
snippets below from its own context.
*/}}

{{/* The alembic-sidecar version the image tag defaults to; equal to Chart.yaml appVersion. */}}
{{- define "alembic-sidecar.appVersion" -}}
0.1.0
{{- end }}

{{- define "alembic-sidecar.name" -}}
{{- default "alembic-sidecar" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "alembic-sidecar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default "alembic-sidecar" .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "alembic-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "alembic-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alembic-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels for every object of this chart; takes the chart's own root context. */}}
{{- define "alembic-sidecar.labels" -}}
helm.sh/chart: {{ include "alembic-sidecar.chart" . }}
{{ include "alembic-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alembic-sidecar
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "alembic-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "alembic-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "alembic-sidecar.leaderElection" -}}
{{- if or .Values.rbac.leaderElection .Values.sidecar.leaderElect (and .Values.standalone.enabled .Values.standalone.leaderElect) }}true{{- end }}
{{- end }}

{{/*
alembic-sidecar.resolve (internal): the alembic-sidecar values seen from the calling context,
as YAML. Accepted contexts:
  - this chart's root context ($);
  - an app chart's root context ($) when alembic-sidecar is its dependency: the values are
    under .Values "alembic-sidecar" (or .Values.alembicSidecar for the alias alembicSidecar);
  - (dict "root" $ "values" <alembic-sidecar values>) for any other alias.
*/}}
{{- define "alembic-sidecar.resolve" -}}
{{- if and (hasKey . "root") (hasKey . "values") -}}
{{- toYaml .values -}}
{{- else if and (hasKey . "Chart") (eq .Chart.Name "alembic-sidecar") -}}
{{- toYaml .Values -}}
{{- else if hasKey .Values "alembic-sidecar" -}}
{{- toYaml (index .Values "alembic-sidecar") -}}
{{- else if hasKey .Values "alembicSidecar" -}}
{{- toYaml .Values.alembicSidecar -}}
{{- else -}}
{{- fail "alembic-sidecar: add the alembic-sidecar chart as a dependency (values key \"alembic-sidecar\" or alias \"alembicSidecar\"), or pass (dict \"root\" $ \"values\" <its values>)" -}}
{{- end -}}
{{- end }}

{{/*
alembic-sidecar._container (internal): one container list item.
Takes (dict "ctx" <any accepted context> "native" bool "standalone" bool).
*/}}
{{- define "alembic-sidecar._container" -}}
{{- $ctx := .ctx -}}
{{- $root := $ctx -}}
{{- if and (hasKey $ctx "root") (hasKey $ctx "values") -}}
{{- $root = $ctx.root -}}
{{- end -}}
{{- $v := fromYaml (include "alembic-sidecar.resolve" $ctx) -}}
{{- $s := $v.sidecar | default dict -}}
{{- $img := $v.image | default dict -}}
{{- $repo := $img.repository | default "alembic-sidecar" -}}
{{- $tag := $img.tag | default (include "alembic-sidecar.appVersion" $root) -}}
{{- $pullPolicy := $img.pullPolicy | default "IfNotPresent" -}}
{{- if .standalone -}}
{{- $simg := $v.standalone.image | default dict -}}
{{- if or (not $simg.repository) (not $simg.tag) -}}
{{- fail "alembic-sidecar: standalone.image.repository and standalone.image.tag are required (an image with alembic, the app's dependencies and code)" -}}
{{- end -}}
{{- $repo = $simg.repository -}}
{{- $tag = $simg.tag -}}
{{- $pullPolicy = $simg.pullPolicy | default $pullPolicy -}}
{{- end -}}
{{- $port := $s.port | default 8080 | int -}}
- name: {{ $s.name | default "alembic-sidecar" }}
  image: {{ printf "%s:%s" $repo $tag | quote }}
  imagePullPolicy: {{ $pullPolicy }}
  {{- if .native }}
  # Native sidecar (Kubernetes >= 1.29): an init container that keeps running.
  restartPolicy: Always
  {{- end }}
  args:
    - sidecar
    - --port
    - {{ $port | quote }}
    {{- if .standalone }}
    - --workspace-dir
    - {{ $v.standalone.workspaceDir | default "/app" | quote }}
    {{- else }}
    {{- if and $s.targetContainer (ne $s.targetContainer "app") }}
    - --target-container
    - {{ $s.targetContainer | quote }}
    {{- end }}
    {{- if and $s.workdir (ne $s.workdir "/app") }}
    - --workdir
    - {{ $s.workdir | quote }}
    {{- end }}
    {{- end }}
    {{- with $s.selector }}
    - --selector
    - {{ . | quote }}
    {{- end }}
    {{- if or $s.leaderElect (and .standalone $v.standalone.leaderElect) }}
    - --leader-elect
    {{- end }}
    {{- range $s.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: ALEMBIC_SIDECAR_LOG_LEVEL
      value: {{ $s.logLevel | default "info" | quote }}
    {{- if .standalone }}
    - name: HOME
      value: /tmp
    - name: PYTHONDONTWRITEBYTECODE
      value: "1"
    {{- with $v.standalone.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- end }}
    {{- with $s.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if and .standalone $v.standalone.envFrom }}
  envFrom:
    {{- toYaml $v.standalone.envFrom | nindent 4 }}
  {{- end }}
  ports:
    - name: http
      containerPort: {{ $port }}
      protocol: TCP
  {{- with $s.livenessProbe }}
  livenessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.readinessProbe }}
  readinessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: alembic-sidecar-tmp
      mountPath: /tmp
    {{- if $s.projectedToken }}
    - name: alembic-sidecar-token
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    {{- end }}
    {{- if .standalone }}
    {{- $wdir := $v.standalone.workspaceDir | default "/app" }}
    {{- range $i, $d := $v.standalone.writableDirs }}
    - name: {{ printf "alembic-sidecar-workspace-%d" $i }}
      mountPath: {{ printf "%s/%s" (trimSuffix "/" $wdir) (trimPrefix "/" $d) | quote }}
    {{- end }}
    {{- end }}
{{- end }}

{{/*
alembic-sidecar.container: the sidecar as a classic container. In an app chart:
  containers:
    - name: app
      ...
    {{- include "alembic-sidecar.container" . | nindent 4 }}
*/}}
{{- define "alembic-sidecar.container" -}}
{{ include "alembic-sidecar._container" (dict "ctx" . "native" false "standalone" false) }}
{{- end }}

{{/*
alembic-sidecar.initContainer: the sidecar as a native sidecar (an init container with
restartPolicy: Always; Kubernetes >= 1.29). In an app chart:
  initContainers:
    {{- include "alembic-sidecar.initContainer" . | nindent 4 }}
*/}}
{{- define "alembic-sidecar.initContainer" -}}
{{ include "alembic-sidecar._container" (dict "ctx" . "native" true "standalone" false) }}
{{- end }}

{{/*
alembic-sidecar.volumes: the volumes the sidecar container mounts (/tmp, and the projected
ServiceAccount token unless sidecar.projectedToken is false). In an app chart:
  volumes:
    {{- include "alembic-sidecar.volumes" . | nindent 4 }}
*/}}
{{- define "alembic-sidecar.volumes" -}}
{{- $v := fromYaml (include "alembic-sidecar.resolve" .) -}}
{{- $s := $v.sidecar | default dict -}}
- name: alembic-sidecar-tmp
  emptyDir:
    sizeLimit: {{ $s.tmpSizeLimit | default "256Mi" }}
{{- if $s.projectedToken }}
- name: alembic-sidecar-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: {{ $s.tokenExpirationSeconds | default 3607 | int }}
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                fieldPath: metadata.namespace
{{- end }}
{{- end }}

{{/*
alembic-sidecar.serviceAccountNameFor: the ServiceAccount the pod must use, from any accepted
context (an app chart: serviceAccountName: {{ include "alembic-sidecar.serviceAccountNameFor" . }}).
*/}}
{{- define "alembic-sidecar.serviceAccountNameFor" -}}
{{- $root := . -}}
{{- if and (hasKey . "root") (hasKey . "values") -}}
{{- $root = .root -}}
{{- end -}}
{{- $v := fromYaml (include "alembic-sidecar.resolve" .) -}}
{{- include "alembic-sidecar.serviceAccountName" (dict "Values" $v "Release" $root.Release) -}}
{{- end }}
