#!/usr/bin/env bash
# ctest's fixture for the cluster suite: starts (or stops) one envtest stack, the real
# kube-apiserver + kube-controller-manager + etcd + local-kubelet of ../shared/envtest.
#   envtest.sh start DIR | envtest.sh stop DIR
# The kit is $ALEMBIC_SIDECAR_ENVTEST, else ../shared/envtest next to the repository. When it
# is not there (a user's clone) the suite is skipped (exit 77, ctest's SKIP_RETURN_CODE) with a
# message, unless ALEMBIC_SIDECAR_REQUIRE_CLUSTER=1 (CI, .ci/run): then it is a failure.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
kit=${ALEMBIC_SIDECAR_ENVTEST:-$repo/../shared/envtest}
[[ $# -eq 2 ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
action=$1 dir=$2

if [[ ! -x $kit/start.sh ]]; then
  if [[ ${ALEMBIC_SIDECAR_REQUIRE_CLUSTER:-} == 1 ]]; then
    echo "cluster suite: no envtest kit at $kit, and ALEMBIC_SIDECAR_REQUIRE_CLUSTER=1" >&2
    exit 1
  fi
  [[ $action == stop ]] && exit 0
  echo "cluster suite SKIPPED: no envtest kit at $kit (set ALEMBIC_SIDECAR_ENVTEST to the kit's" \
       "directory to run it)"
  rm -f "$dir/kubeconfig"
  exit 77
fi

case $action in
  start)
    # The apiserver's audit log records every pods/exec request (metadata only: who, which pod;
    # no bodies, no tokens), so the suite can count the exec sessions a run opens.
    mkdir -p "$dir/audit"
    cat >"$dir/audit/policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [ResponseStarted, ResponseComplete, Panic]
rules:
- level: Metadata
  resources: [{group: "", resources: [pods/exec]}]
- level: None
EOF
    ENVTEST_APISERVER_ARGS="${ENVTEST_APISERVER_ARGS:+$ENVTEST_APISERVER_ARGS }--audit-policy-file=$dir/audit/policy.yaml --audit-log-path=$dir/audit/audit.log" \
      "$kit/start.sh" "$dir"
    ;;
  stop)
    # The kit's stop.sh stops exactly the pids it recorded in DIR; logs stay on failure.
    if [[ -e $dir/env.sh ]]; then "$kit/stop.sh" "$dir"; fi
    rm -rf "$dir/audit"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
