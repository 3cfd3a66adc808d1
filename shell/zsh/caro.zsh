# caro for zsh: Ctrl-G turns the line you typed into a shell command, in place.
# Load it with:  eval "$(caro init zsh)"
# It defines only _caro-prefixed names, can be loaded twice, and never returns from eval'd code.
# eval expands the user's aliases as it reads this file, so every command goes through `\builtin`
# or `\command`, which no alias can break; options are the user's until `emulate -L zsh` in the
# widget.

# One long-lived client per shell session (`caro session`, src/shell/session.ts) answers Ctrl-G,
# so no Node starts per keystroke. Its private folder is named now and made on the first Ctrl-G.
if [[ -z ${_caro_session_dir-} ]]; then
  \builtin typeset -g _caro_session_dir=/tmp
  [[ ${XDG_RUNTIME_DIR-} != /* || ! -d ${XDG_RUNTIME_DIR-} ]] || _caro_session_dir=$XDG_RUNTIME_DIR
  _caro_session_dir+=/@CARO_SESSION_PREFIX@$UID-$$-$RANDOM$RANDOM
fi

# The session client's shared part (shell/common.sh): _caro_client and the functions it uses.
@CARO_COMMON_SH@

# Sets the caller's `waiter` to this process's pid (the widget's command substitution: the client
# drops a request whose waiter is gone) and adds to its `env` what the client forwards to the
# daemon (src/client/forwarded.ts), as exported now.
_caro_request_env() {
  \builtin local name
  \builtin zmodload -F zsh/system p:sysparams 2>/dev/null || \builtin return 1
  waiter=$sysparams[pid]
  for name in ${(k)parameters[(I)@CARO_FORWARDED@]}; do
    [[ ${parameters[$name]} == *export* ]] && env+=("$name=${(P)name}")
  done
  \builtin return 0
}

# Sets the caller's `shell_names` to the names of this shell's functions (not the _-prefixed
# ones: helpers, completion's among them) and aliases, and its `history_lines` to the last $2
# history entries, oldest first. From zsh/parameter's tables, looked up by event number: no fork,
# no history file.
_caro_request_context() {
  \builtin local -i event=HISTCMD probes=0
  \builtin zmodload zsh/parameter 2>/dev/null || \builtin return 0
  shell_names=(${(k)functions[(I)[^_]*]} ${(k)aliases})
  # Events dropped (duplicates expired) leave gaps in the numbers: a few more are looked at.
  while (( ${#history_lines} < $2 && --event > 0 && ++probes <= 4 * $2 )); do
    (( ! ${+history[$event]} )) || history_lines=("$history[$event]" "${history_lines[@]}")
  done
  \builtin return 0
}

# Starts the session client for the folder $1, in a subshell without job control: the client stays
# in the shell's process group, which owns the terminal while the widget runs, so it can take the
# keys (Ctrl-C cancels) as the one-shot client does. &! disowns it: no job notice.
_caro_session_start() {
  (
    \builtin setopt no_monitor
    @CARO_CLIENT@ session zsh "$1" "$$" </dev/null >/dev/null 2>&1 &!
    \builtin print -r -- "$!" >|"$1/@CARO_PID_FILE@"
  )
}

# What caro last answered: the widget arguments of the request, and every buffer it wrote for it.
# Ctrl-G on a buffer caro wrote asks for another candidate; anything else starts afresh.
\builtin typeset -ga _caro_request _caro_shown _caro_failed

# The command line zsh runs (its hooks get it whatever the history keeps: HIST_IGNORE_SPACE drops
# only the history entry, and $3, the full text, stands in when there is no history) and, once it
# has run, its status when it failed: Ctrl-G on an empty line fixes it.
_caro_preexec() {
  \builtin emulate -L zsh
  \builtin typeset -g _caro_ran=${1:-$3}
}

# zsh gives every precmd function the last command's $?; emulate would reset it, so it is read first.
# A prompt after no command (an empty line, Ctrl-C) keeps what the last command left.
_caro_precmd() {
  \builtin local rc=$?
  \builtin emulate -L zsh
  (( ${+_caro_ran} )) || \builtin return 0
  if (( rc != 0 )) && [[ -n $_caro_ran ]]; then
    _caro_failed=("$_caro_ran" "$rc")
  else
    _caro_failed=()
  fi
  \builtin unset _caro_ran
}

_caro_widget() {
  # Read before emulate, which would show zsh's default (off): whether `#` starts a comment at this
  # prompt. Without it, caro puts a blocked command in as an assignment, not as `# …` (disarm.ts).
  \builtin local comments=
  if [[ -o interactive_comments ]]; then
    comments=--comments
  fi
  \builtin emulate -L zsh
  \builtin local typed out message rc buffer shown
  \builtin local -a args
  typed=$BUFFER
  if (( ${#_caro_shown} )) && (( ${_caro_shown[(Ie)$typed]} )); then
    for shown in "${_caro_shown[@]}"; do args+=(--shown "$shown"); done
    args+=("${_caro_request[@]}")
  elif [[ -n ${typed//[[:space:]]/} ]]; then
    args=(-- "$typed")
  elif (( ${#_caro_failed} == 2 )); then
    args=(--failed "$_caro_failed[1]" --status "$_caro_failed[2]" -- "")
  else
    \builtin return 0
  fi
  # caro draws "thinking" and the command as it streams in, on the line below this one.
  out=$(_caro_client ${comments:+"$comments"} "${args[@]}")
  rc=$?
  message=${out%%$'\n'*}
  if (( rc == @CARO_EXIT_ANSWERED@ || rc == @CARO_EXIT_TYPED_KEYS_ONLY@ )) && [[ $out == *$'\n'* ]]; then
    buffer=${out#*$'\n'}
    if (( rc == @CARO_EXIT_ANSWERED@ )); then
      if [[ $args[1] == --shown ]]; then
        _caro_shown+=("$buffer")
      else
        # The request goes into history so it can be recalled; undo brings it back too.
        [[ -n ${typed//[[:space:]]/} ]] && \builtin print -rs -- "$typed"
        _caro_request=("${args[@]}")
        _caro_shown=("$buffer")
      fi
    fi
    BUFFER=$buffer
    CURSOR=$#BUFFER
  elif [[ -z $message ]] && (( rc != @CARO_EXIT_NOTHING_TO_DO@ )); then
    message="caro: failed (exit $rc)"
  fi
  \builtin zle -R
  [[ -z $message ]] || \builtin zle -M -- "$message"
  \builtin return 0
}

# Explains the command in the buffer below the prompt; the buffer stays as it is.
_caro_explain_widget() {
  \builtin emulate -L zsh
  \builtin local out rc
  [[ -n ${BUFFER//[[:space:]]/} ]] || \builtin return 0
  out=$(_caro_client --explain -- "$BUFFER")
  rc=$?
  [[ -n $out ]] || out="caro: failed (exit $rc)"
  \builtin zle -R
  \builtin zle -M -- "$out"
  \builtin return 0
}

\builtin zle -N _caro_widget
\builtin zle -N _caro_explain_widget
if [[ -z ${_caro_hooked-} ]]; then
  \builtin typeset -g _caro_hooked=1
  \builtin typeset -ga preexec_functions precmd_functions
  preexec_functions+=(_caro_preexec)
  precmd_functions+=(_caro_precmd)
fi
# caro init writes in the bind switch (1, or 0 under --no-bind), the keymaps, and the keys in
# bindkey's notation.
if (( @CARO_BIND@ )) && [[ -z ${_caro_bound-} ]]; then
  \builtin typeset -g _caro_bound=1
  \builtin typeset -g _caro_key=@CARO_KEY_NAME@ _caro_explain_key=@CARO_EXPLAIN_KEY_NAME@
  for _caro_keymap in @CARO_KEYMAPS@; do
    \builtin bindkey -M "$_caro_keymap" @CARO_KEY@ _caro_widget
    \builtin bindkey -M "$_caro_keymap" @CARO_EXPLAIN_KEY@ _caro_explain_widget
  done
  \builtin unset _caro_keymap
fi

# caro init writes in the start switch (1, or 0 under --no-start or [daemon] start_on_init = false):
# the daemon starts and loads the model in the background while the shell starts, so the first Ctrl-G
# is warm. &! disowns at once: no job notice, nothing to wait for, and no status for err_exit to see.
if (( @CARO_START@ )); then
  @CARO_CLIENT@ daemon start --background --shell @CARO_SHELL@ </dev/null >/dev/null 2>&1 &!
fi
