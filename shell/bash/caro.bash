# caro for bash: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init bash)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# bash expands the user's aliases as it reads this file, so commands go through `builtin`; the
# widget runs under the user's options (set -e, -u, pipefail), so no step in it may fail unchecked.

_caro_client() {
  @CARO_CLIENT@ widget bash "$1" </dev/null
}

_caro_widget() {
  # Declared first, assigned after: `builtin local a=$b` would split $b into words.
  builtin local typed out message rc=0
  typed=$READLINE_LINE
  if [[ -z ${typed//[[:space:]]/} ]]; then
    builtin return 0
  fi
  # caro draws "thinking" and the command as it streams in, in place of the prompt line.
  out=$(_caro_client "$typed") || rc=$?
  message=${out%%$'\n'*}
  if (( rc == 0 )) && [[ $out == *$'\n'* ]]; then
    builtin history -s -- "$typed"
    READLINE_LINE=${out#*$'\n'}
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

# caro init writes in the bind switch (1, or 0 under --no-bind) and the key in readline's notation.
# Bind only where there is line editing: a non-interactive shell would print warnings.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} && $- == *i* ]]; then
  if (( BASH_VERSINFO[0] < 4 )); then
    builtin printf 'caro: bash %s has no READLINE_LINE; the Ctrl-G widget needs bash 4 or newer\n' \
      "$BASH_VERSION" >&2
  else
    _caro_bound=1
    builtin bind -m emacs -x '"@CARO_KEY@": _caro_widget'
    builtin bind -m vi-insert -x '"@CARO_KEY@": _caro_widget'
    builtin bind -m vi-command -x '"@CARO_KEY@": _caro_widget'
  fi
fi

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. Started from a subshell, it is never this shell's job: no job notice, nothing to wait for.
if (( @CARO_START@ )); then
  ( @CARO_CLIENT@ daemon start --background --shell @CARO_SHELL@ </dev/null >/dev/null 2>&1 & )
fi
