# Sourced by the runner scripts: the job to run is the script's first argument, the rest goes to it unchanged.
BEAM_USAGE="usage: $(basename "$0") build-corpus|build-entity-vocab DUMP... --output OUT [options ...]"
case "${1:-}" in
    build-corpus | build-entity-vocab) ;;
    *) echo "$BEAM_USAGE (options: luke build-corpus --help)" >&2; exit 2 ;;
esac
