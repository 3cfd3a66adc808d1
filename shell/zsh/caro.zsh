# caro for zsh: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init zsh)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# eval expands the user's aliases as it reads this file, so every command goes through `builtin`
# (aliases of `builtin` itself aside); options are the user's until `emulate -L zsh` in the widget.

_caro_client() {
  @CARO_CLIENT@ widget zsh "$1" </dev/null
}

_caro_widget() {
  builtin emulate -L zsh
  builtin local typed out message rc
  typed=$BUFFER
  [[ -n ${typed//[[:space:]]/} ]] || builtin return 0
  # caro draws "thinking" and the command as it streams in, on the line below this one.
  out=$(_caro_client "$typed")
  rc=$?
  message=${out%%$'\n'*}
  if (( rc == 0 )) && [[ $out == *$'\n'* ]]; then
    # The request goes into history so it can be recalled; one undo brings it back too.
    builtin print -rs -- "$typed"
    BUFFER=${out#*$'\n'}
    CURSOR=$#BUFFER
  elif [[ -z $message ]]; then
    message="caro: failed (exit $rc)"
  fi
  builtin zle -R
  [[ -z $message ]] || builtin zle -M -- "$message"
  builtin return 0
}

builtin zle -N _caro_widget
# caro init writes in the bind switch (1, or 0 under --no-bind) and the key in bindkey's notation.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} ]]; then
  builtin typeset -g _caro_bound=1
  builtin bindkey -M emacs @CARO_KEY@ _caro_widget
  builtin bindkey -M viins @CARO_KEY@ _caro_widget
  builtin bindkey -M vicmd @CARO_KEY@ _caro_widget
fi

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. &! disowns at once: no job notice, nothing to wait for, and no status for err_exit to see.
if (( @CARO_START@ )); then
  @CARO_CLIENT@ daemon start --background --shell @CARO_SHELL@ </dev/null >/dev/null 2>&1 &!
fi
