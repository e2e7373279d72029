# Shared by the measurement scripts. A script sources it first, sets its defaults, then
#   parse_options "VALUE OPTIONS" "FLAG OPTIONS" "$@"   # --name VALUE sets $name, --flag sets $flag=1
#   positive_ints runs pairs                            # each named option must be a positive integer
#   build_atlasperf                                     # release binary in CI's target dir: $ap
#   output_dir                                          # $out, or a fresh temporary folder
# Option names with dashes set variables with underscores (--skip-ants sets $skip_ants). A usage
# error names the argument, prints the script's "# usage:" line and exits 2. With
# ATLASPERF_ARGS_ONLY=1 a script stops with exit 0 once its arguments are checked, before it
# builds or installs anything (the guide's examples are checked that way in the tests).
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"

usage_error() { # MESSAGE
  echo "$(basename "$0"): $1" >&2
  sed -n 's/^# usage: /usage: /p' "$0" >&2
  exit 2
}

parse_options() { # VALUE_OPTIONS FLAG_OPTIONS ARGS...
  local _values=" $1 " _flags=" $2 " _name
  shift 2
  while [ $# -gt 0 ]; do
    _name="${1#--}"
    if [ "$_name" = "$1" ]; then
      usage_error "unknown argument: $1"
    elif [[ "$_values" == *" $_name "* ]]; then
      [ $# -ge 2 ] || usage_error "$1 takes a value"
      printf -v "${_name//-/_}" '%s' "$2"
      shift 2
    elif [[ "$_flags" == *" $_name "* ]]; then
      printf -v "${_name//-/_}" '%s' 1
      shift
    else
      usage_error "unknown argument: $1"
    fi
  done
}

positive_ints() { # VARIABLE...
  local _n
  for _n in "$@"; do
    case "${!_n}" in
      '' | *[!0-9]* | 0) usage_error "--${_n//_/-} takes a positive integer, got '${!_n}'" ;;
    esac
  done
}

one_of() { # VARIABLE CHOICE...
  local _n="$1" _c
  shift
  for _c in "$@"; do [ "${!_n}" = "$_c" ] && return 0; done
  usage_error "--${_n//_/-} is one of $*, got '${!_n}'"
}

args_checked() {
  if [ "${ATLASPERF_ARGS_ONLY:-0}" = 1 ]; then exit 0; fi
}

build_atlasperf() {
  args_checked
  (cd "$root" && cargo build --release --quiet --bin atlasperf)
  ap="$CARGO_TARGET_DIR/release/atlasperf"
}

output_dir() {
  if [ -z "${out:-}" ]; then out="$(mktemp -d)"; fi
  mkdir -p "$out"
  echo "runs in $out" >&2
}

need_gnu_time() {
  args_checked
  command -v /usr/bin/time >/dev/null || { echo "GNU time is needed: apt-get install -y time" >&2; exit 2; }
}

# Installs ANTs, greedy and the rest of the anchors (scripts/install-anchors.sh) and sets $py to
# their Python.
anchors() {
  args_checked
  "$here/install-anchors.sh" >/dev/null
  py="${ATLASPERF_ANCHORS:-$HOME/.cache/atlasperf-anchors}/bin/python"
}
