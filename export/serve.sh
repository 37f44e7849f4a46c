#!/usr/bin/env bash
# Serve a tf_ebm export with TensorFlow Serving, from the local binary or the Docker image.
#
#   export/serve.sh EXPORT_DIR           # tensorflow_model_server on PATH
#   export/serve.sh EXPORT_DIR docker    # docker run tensorflow/serving
#
# EXPORT_DIR is the --export_dir given to `python -m tf_ebm.export`; the model folder is
# EXPORT_DIR/$MODEL_NAME. Environment: MODEL_NAME (default ebm), REST_PORT (8501),
# GRPC_PORT (8500). DRY_RUN=1 prints the command instead of running it.
#
# The local binary binds its gRPC port on all interfaces (TF Serving has no listen-address
# flag for it). The Docker command publishes both ports on 127.0.0.1 only.
set -euo pipefail

usage="usage: $0 EXPORT_DIR [local|docker]"
export_dir=$(cd "${1:?$usage}" && pwd)
mode=${2:-local}
model_name=${MODEL_NAME:-ebm}
rest_port=${REST_PORT:-8501}
grpc_port=${GRPC_PORT:-8500}
template="$(cd "$(dirname "$0")" && pwd)/models.config"

if [[ ! -d "$export_dir/$model_name" ]]; then
  echo "Model folder $export_dir/$model_name not found; run python -m tf_ebm.export --export_dir=$export_dir --model_name=$model_name first." >&2
  exit 1
fi

run() {
  if [[ "${DRY_RUN:-0}" == 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    exec "$@"
  fi
}

case "$mode" in
  local)
    # The template's base_path is the Docker path; point a copy at the local model folder.
    config="$export_dir/models.config"
    sed -e "s|name: \"ebm\"|name: \"$model_name\"|" \
        -e "s|base_path: \"/models/ebm\"|base_path: \"$export_dir/$model_name\"|" \
        "$template" > "$config"
    run tensorflow_model_server \
      --port="$grpc_port" \
      --rest_api_port="$rest_port" \
      --model_config_file="$config"
    ;;
  docker)
    run docker run --rm \
      -p "127.0.0.1:$rest_port:8501" \
      -p "127.0.0.1:$grpc_port:8500" \
      -v "$export_dir/$model_name:/models/$model_name" \
      -e MODEL_NAME="$model_name" \
      tensorflow/serving
    ;;
  *)
    echo "Unknown mode '$mode'; $usage" >&2
    exit 2
    ;;
esac
