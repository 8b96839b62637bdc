# bash completion for sni-ctl (installed as .../bash-completion/completions/sni-ctl)
_sni_ctl() {
    local cur prev words cword
    _init_completion || return
    local commands="status routes conns metrics reload drain check"
    case "$prev" in
        --socket) _filedir; return ;;
        check) _filedir 'y?(a)ml'; return ;;
        --route|--listener) return ;;
    esac
    local cmd="" w
    for w in "${words[@]:1:cword-1}"; do
        case "$w" in
            status|routes|conns|metrics|reload|drain|check) cmd=$w ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands --socket --json --help" -- "$cur"))
        return
    fi
    case "$cmd" in
        drain) COMPREPLY=($(compgen -W "--route --listener --json --help" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
    esac
}
complete -F _sni_ctl sni-ctl
