# caro for bash: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init bash)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# bash expands the user's aliases as it reads this file, so commands go through `builtin`; the
# widget runs under the user's options (set -e, -u, pipefail), so no step in it may fail unchecked.

# Its arguments are the widget's options and buffer (see src/client/widget.ts).
_caro_client() {
  @CARO_CLIENT@ widget bash "$@" </dev/null
}

# What caro last answered: the widget arguments of the request, and every buffer it wrote for it.
# Ctrl-G on a buffer caro wrote asks for another candidate; anything else starts afresh.
[[ -n ${_caro_shown+set} ]] || _caro_shown=()
[[ -n ${_caro_request+set} ]] || _caro_request=()
[[ -n ${_caro_failed+set} ]] || _caro_failed=()

# Runs first in PROMPT_COMMAND, while $? is the last command's: when it failed, Ctrl-G on an empty
# line fixes it. A new history number means a command ran (an empty Enter keeps the old state).
_caro_precmd() {
  builtin local rc=$? entry number
  entry=$(builtin history 1 2>/dev/null) || entry=
  if [[ $entry =~ ^[[:space:]]*([0-9]+)[*[:space:]]+(.*)$ ]]; then
    number=${BASH_REMATCH[1]}
    if [[ $number != "${_caro_seen-}" ]]; then
      _caro_seen=$number
      if (( rc != 0 )); then
        _caro_failed=("${BASH_REMATCH[2]}" "$rc")
      else
        _caro_failed=()
      fi
    fi
  fi
  builtin return "$rc"
}

_caro_is_shown() {
  builtin local shown
  for shown in "${_caro_shown[@]}"; do
    [[ $shown != "$1" ]] || builtin return 0
  done
  builtin return 1
}

_caro_widget() {
  # Declared first, assigned after: `builtin local a=$b` would split $b into words.
  builtin local typed out message buffer shown rc=0
  builtin local -a args
  args=()
  typed=$READLINE_LINE
  if (( ${#_caro_shown[@]} )) && _caro_is_shown "$typed"; then
    for shown in "${_caro_shown[@]}"; do args+=(--shown "$shown"); done
    args+=("${_caro_request[@]}")
  elif [[ -n ${typed//[[:space:]]/} ]]; then
    args=(-- "$typed")
  elif (( ${#_caro_failed[@]} == 2 )); then
    args=(--failed "${_caro_failed[0]}" --status "${_caro_failed[1]}" -- "")
  else
    builtin return 0
  fi
  # caro draws "thinking" and the command as it streams in, in place of the prompt line.
  out=$(_caro_client "${args[@]}") || rc=$?
  message=${out%%$'\n'*}
  if (( rc == 0 || rc == 4 )) && [[ $out == *$'\n'* ]]; then
    buffer=${out#*$'\n'}
    if (( rc == 0 )) && [[ ${args[0]} == --shown ]]; then
      _caro_shown+=("$buffer")
    elif (( rc == 0 )); then
      # The request goes into history so it can be recalled; undo brings it back too.
      if [[ -n ${typed//[[:space:]]/} ]]; then
        builtin history -s -- "$typed"
      fi
      _caro_request=("${args[@]}")
      _caro_shown=("$buffer")
    fi
    READLINE_LINE=$buffer
    # bash 4 counts READLINE_POINT in bytes, bash 5 in characters: the byte length (C locale)
    # is the end in both, since bash 5 stops a larger point at the end of the line.
    builtin local LC_ALL=C
    READLINE_POINT=${#READLINE_LINE}
  elif [[ -z $message ]]; then
    message="caro: failed (exit $rc)"
  fi
  if [[ -n $message ]]; then
    builtin printf '\r\033[2K%s\n' "$message" >/dev/tty
  fi
  builtin return 0
}

# Explains the command in the buffer below the prompt; the buffer stays as it is.
_caro_explain_widget() {
  builtin local out rc=0
  if [[ -z ${READLINE_LINE//[[:space:]]/} ]]; then
    builtin return 0
  fi
  out=$(_caro_client --explain -- "$READLINE_LINE") || rc=$?
  if [[ -z $out ]]; then
    out="caro: failed (exit $rc)"
  fi
  builtin printf '\r\033[2K%s\n' "$out" >/dev/tty
  builtin return 0
}

# caro init writes in the bind switch (1, or 0 under --no-bind) and the key in readline's notation.
# Bind only where there is line editing: a non-interactive shell would print warnings.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} && $- == *i* ]]; then
  if (( BASH_VERSINFO[0] < 4 )); then
    builtin printf 'caro: bash %s has no READLINE_LINE; the Ctrl-G widget needs bash 4 or newer\n' \
      "$BASH_VERSION" >&2
  else
    _caro_bound=1
    _caro_key=@CARO_KEY_NAME@
    _caro_explain_key=@CARO_EXPLAIN_KEY_NAME@
    builtin bind -m emacs -x '"@CARO_KEY@": _caro_widget'
    builtin bind -m vi-insert -x '"@CARO_KEY@": _caro_widget'
    builtin bind -m vi-command -x '"@CARO_KEY@": _caro_widget'
    builtin bind -m emacs -x '"@CARO_EXPLAIN_KEY@": _caro_explain_widget'
    builtin bind -m vi-insert -x '"@CARO_EXPLAIN_KEY@": _caro_explain_widget'
    builtin bind -m vi-command -x '"@CARO_EXPLAIN_KEY@": _caro_explain_widget'
  fi
fi

# _caro_precmd goes first, to see the last command's status; PROMPT_COMMAND is an array in bash 5.1+.
if [[ -z ${_caro_hooked-} && $- == *i* ]]; then
  _caro_hooked=1
  # shellcheck disable=SC2128,SC2178 # a string here, an array in the branch above
  if [[ $(builtin declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
    PROMPT_COMMAND=(_caro_precmd "${PROMPT_COMMAND[@]}")
  else
    PROMPT_COMMAND="_caro_precmd${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
  fi
fi
