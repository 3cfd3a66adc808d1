# caro for zsh: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init zsh)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.

_caro_client() {
  @CARO_CLIENT@ widget zsh "$1" </dev/null
}

_caro_widget() {
  emulate -L zsh
  local typed=$BUFFER out message rc thinking="caro: thinking…"
  [[ -n ${typed//[[:space:]]/} ]] || return 0
  # Outside a UTF-8 locale zsh counts the ellipsis as three columns and misdraws the prompt.
  (( ${#thinking} == 15 )) || thinking="caro: thinking..."
  zle -R "$thinking"
  out=$(_caro_client "$typed")
  rc=$?
  message=${out%%$'\n'*}
  if (( rc == 0 )) && [[ $out == *$'\n'* ]]; then
    # The request goes into history so it can be recalled; one undo brings it back too.
    print -rs -- "$typed"
    BUFFER=${out#*$'\n'}
    CURSOR=$#BUFFER
  elif [[ -z $message ]]; then
    message="caro: failed (exit $rc)"
  fi
  zle -R
  [[ -z $message ]] || zle -M -- "$message"
  return 0
}

zle -N _caro_widget
@CARO_BIND@
