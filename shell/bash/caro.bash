# caro for bash: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init bash)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.

_caro_client() {
  @CARO_CLIENT@ widget bash "$1" </dev/null
}

_caro_widget() {
  local typed=$READLINE_LINE out message rc
  if [[ -z ${typed//[[:space:]]/} ]]; then
    return 0
  fi
  out=$(_caro_client "$typed")
  rc=$?
  message=${out%%$'\n'*}
  if (( rc == 0 )) && [[ $out == *$'\n'* ]]; then
    history -s -- "$typed"
    READLINE_LINE=${out#*$'\n'}
    # bash 4 counts READLINE_POINT in bytes, bash 5 in characters: the byte length (C locale)
    # is the end in both, since bash 5 stops a larger point at the end of the line.
    local LC_ALL=C
    READLINE_POINT=${#READLINE_LINE}
  elif [[ -z $message ]]; then
    message="caro: failed (exit $rc)"
  fi
  if [[ -n $message ]]; then
    printf '\r\033[2K%s\n' "$message" >/dev/tty
  fi
  return 0
}
@CARO_BIND@
