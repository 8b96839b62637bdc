#!/bin/sh
# The scenario run inside the VM (busybox sh) by the /init run-vm writes. Every check prints
# "CHECK ok NAME: detail" or "CHECK FAIL NAME: detail"; run-vm fails on any FAIL and on a
# missing "VM-RESULT PASS". SNI_VM_MODE=full|bpf-only, SNI_VM_BYTES (each way, TLS 1.2 route).
set -u
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
ip link set lo up
echo
echo "VM-BOOTED kernel=$(uname -r) cpus=$(nproc) mode=$SNI_VM_MODE uptime=$(cut -d' ' -f1 /proc/uptime)s"

failed=0
stamp() { echo "guest: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }
ok() { echo "CHECK ok $1: $2"; }
bad() {
  echo "CHECK FAIL $1: $2"
  failed=1
}
# field LINE KEY: the value of KEY=value in one of our log lines (or a peer line).
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1 | tr -d '"'; }
# jfield LINE KEY: the value of "KEY":value in a worker's JSON access-log line (values we read
# hold no comma).
jfield() { echo "$1" | tr ',' '\n' | sed -n "s/^{\{0,1\}\"$2\":\(.*\)$/\1/p" | head -n 1 | tr -d '"}'; }
tls_stat() { awk -v k="$1" '$1 == k {print $2}' /proc/net/tls_stat 2>/dev/null || echo 0; }
uptime_cs() { awk '{split($1, a, "."); print a[1] * 100 + a[2]}' /proc/uptime; }
worker_pid() {
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = sni-worker ] && { echo "${p#/proc/}"; return; }
  done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-none}/stat" 2>/dev/null || echo 0; } # utime + stime, USER_HZ
wait_for_line() { # file pattern seconds (guest uptime: under TCG a fork costs a lot)
  end=$(($(uptime_cs) + $3 * 100))
  while ! grep -q "$2" "$1" 2>/dev/null; do
    [ "$(uptime_cs)" -gt $end ] && return 1
    sleep 0.2
  done
}

[ "$SNI_VM_MODE" = full ] && for m in tls gcm ctr ghash-generic aesni-intel ghash-clmulni-intel chacha20poly1305; do
  modprobe "$m" 2>/dev/null || echo "guest: modprobe $m failed (may be built in)"
done
if [ "$SNI_VM_MODE" = full ]; then
  stamp "modules loaded"
  if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
    ok ktls-module "tls ULP available: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
  else
    bad ktls-module "tls not in tcp_available_ulp"
  fi
fi

cert=/etc/sni/cert.pem
key=/etc/sni/key.pem
small=2097152
compare=${SNI_VM_COMPARE_BYTES:-8388608} # the userspace run of the CPU comparison
cat >/etc/sni/config.yaml <<EOF
listeners:
  - name: public
    bind: ["127.0.0.1:8443"]
routes:
  - name: r12
    listener: public
    server_names: ["t12.test"]
    mode: reencrypt
    tls:
      certificates: [{cert: $cert, key: $key}]
      min_version: "1.2"
      max_version: "1.2"
      ciphers: "ECDHE+AESGCM"
    backend:
      servers: ["127.0.0.1:9012"]
      min_version: "1.2"
      max_version: "1.2"
      ciphers: "ECDHE+AESGCM"
      verify: none
  - name: r12u
    listener: public
    server_names: ["u12.test"]
    mode: reencrypt
    tls:
      certificates: [{cert: $cert, key: $key}]
      min_version: "1.2"
      max_version: "1.2"
      ciphers: "ECDHE+AESGCM"
    backend:
      servers: ["127.0.0.1:9112"]
      min_version: "1.2"
      max_version: "1.2"
      ciphers: "ECDHE+AESGCM"
      verify: none
  - name: s12
    listener: public
    server_names: ["s12.test"]
    mode: reencrypt
    tls:
      certificates: [{cert: $cert, key: $key}]
      min_version: "1.2"
      max_version: "1.2"
    backend:
      servers: ["127.0.0.1:9212"]
      max_version: "1.2"
      verify: none
  - name: r13
    listener: public
    server_names: ["t13.test"]
    mode: reencrypt
    tls:
      certificates: [{cert: $cert, key: $key}]
      min_version: "1.3"
      ciphersuites: "TLS_AES_128_GCM_SHA256"
    backend:
      servers: ["127.0.0.1:9013"]
      min_version: "1.3"
      ciphersuites: "TLS_AES_128_GCM_SHA256"
      verify: none
  - name: r10
    listener: public
    server_names: ["t10.test"]
    mode: reencrypt
    tls:
      certificates: [{cert: $cert, key: $key}]
      min_version: "1.2"
      max_version: "1.2"
      ciphers: "ECDHE+AESGCM"
    backend:
      servers: ["127.0.0.1:9010"]
      min_version: "1.0"
      max_version: "1.0"
      security_level: 0
      verify: none
  - name: p12
    listener: public
    server_names: ["p12.test"]
    mode: passthrough
    backend:
      servers: ["127.0.0.1:9312"]
pools:
  - {name: default, workers: 1, user: sni-splitter}
classifier: bpf
EOF

if [ "$SNI_VM_MODE" = full ]; then
  sni-vm-peer server --port 9012 --cert $cert --key $key --min 1.2 --max 1.2 \
    --bytes "$SNI_VM_BYTES" --send-seed 12 --recv-seed 21 >/tmp/b12.log 2>&1 &
  sni-vm-peer server --port 9112 --cert $cert --key $key --min 1.2 --max 1.2 \
    --bytes "$compare" --send-seed 12 --recv-seed 21 >/tmp/b12u.log 2>&1 &
  sni-vm-peer server --port 9212 --cert $cert --key $key --min 1.2 --max 1.2 \
    --bytes $small --send-seed 32 --recv-seed 23 >/tmp/b32.log 2>&1 &
  sni-vm-peer server --port 9312 --cert $cert --key $key --min 1.2 --max 1.2 \
    --bytes $small --send-seed 42 --recv-seed 24 >/tmp/bp12.log 2>&1 &
  sni-vm-peer server --port 9013 --cert $cert --key $key --min 1.3 --max 1.3 \
    --bytes $small --send-seed 13 --recv-seed 31 >/tmp/b13.log 2>&1 &
  sni-vm-peer server --port 9010 --cert $cert --key $key --min 1.0 --max 1.0 --seclevel 0 \
    --ciphers 'DEFAULT:@SECLEVEL=0' --bytes $small --send-seed 10 --recv-seed 1 \
    >/tmp/b10.log 2>&1 &
fi

stamp "starting sni-splitterd"
sni-splitterd --config /etc/sni/config.yaml >/tmp/daemon.log 2>&1 &
daemon=$!
if wait_for_line /tmp/daemon.log 'msg="ready"' 60; then
  ok daemon-ready "$(grep 'msg="ready"' /tmp/daemon.log)"
else
  bad daemon-ready "sni-splitterd did not become ready"
  cat /tmp/daemon.log
  echo "VM-RESULT FAIL"
  exit 1
fi
sel=$(grep 'msg="classifier selected"' /tmp/daemon.log)
if [ "$(field "$sel" classifier)" = bpf ]; then
  ok bpf-classifier "programs loaded and attached on $(uname -r): $sel"
else
  bad bpf-classifier "not the BPF classifier: ${sel:-no classifier line}"
fi

# The worker's access log (stderr, so in the daemon's log): one JSON line per closed connection.
access_lines() { grep '^{' /tmp/daemon.log | grep "\"route\":\"$1\""; }
closed_count() { access_lines "$1" | wc -l; }
# transfer NAME SNI BYTES SEND RECV MIN MAX BACKEND-LOG [CLIENT-OPTION...]: one client through
# the splitter on route NAME; sets
# LINE (the worker's JSON access-log line), TICKS (worker CPU) and CS (wall, 1/100 s).
transfer() {
  name=$1 sni=$2 bytes=$3 sseed=$4 rseed=$5 vmin=$6 vmax=$7 blog=$8
  shift 8 # what is left: extra client options
  stamp "transfer $name: $bytes bytes each way $*"
  backend_lines=$(grep -c '^peer ' "$blog" 2>/dev/null)
  worker_lines=$(closed_count "$name")
  wpid=$(worker_pid)
  t0=$(cpu_ticks "$wpid")
  c0=$(uptime_cs)
  sni-vm-peer client --port 8443 --sni "$sni" --bytes "$bytes" --send-seed "$sseed" \
    --recv-seed "$rseed" --min "$vmin" --max "$vmax" "$@" >/tmp/client.$name.log 2>&1
  rc=$?
  CS=$(($(uptime_cs) - c0))
  end=$(($(uptime_cs) + 2000)) # the backend's and the worker's lines come when their ends close
  while { [ "$(grep -c '^peer ' "$blog")" -le "$backend_lines" ] ||
    [ "$(closed_count "$name")" -le "$worker_lines" ]; } && [ "$(uptime_cs)" -lt $end ]; do
    sleep 0.2
  done
  TICKS=$(($(cpu_ticks "$wpid") - t0))
  client=$(grep '^peer ' /tmp/client.$name.log | tail -n 1)
  backend=$(grep '^peer ' "$blog" | tail -n 1)
  LINE=$(access_lines "$name" | tail -n 1)
  echo "guest: $name client: $client"
  echo "guest: $name backend: $backend"
  echo "guest: $name worker: $LINE"
  if [ $rc -eq 0 ] && [ "$(field "$client" result)" = ok ] && [ "$(field "$backend" result)" = ok ] &&
    [ "$(field "$client" sent_sha256)" = "$(field "$backend" recv_sha256)" ] &&
    [ "$(field "$backend" sent_sha256)" = "$(field "$client" recv_sha256)" ] &&
    [ "$(field "$client" recv)" = "$bytes" ] && [ "$(field "$backend" recv)" = "$bytes" ]; then
    ok "$name-intact" "$bytes bytes each way, up sha256 $(field "$client" sent_sha256), down sha256 $(field "$backend" sent_sha256)"
  else
    bad "$name-intact" "client rc=$rc; see the client and backend lines above"
    cat /tmp/client.$name.log
  fi
  [ -n "$LINE" ] && [ "$(jfield "$LINE" outcome)" = ok ] ||
    bad "$name-worker" "no access-log line with outcome ok for route $name"
}
# expect_line NAME KEY=VALUE...: fields of the last worker line.
expect_line() {
  name=$1
  shift
  for kvp in "$@"; do
    k=${kvp%%=*}
    v=${kvp#*=}
    got=$(jfield "$LINE" "$k")
    if [ "$got" = "$v" ]; then ok "$name-$k" "$k=$got"; else bad "$name-$k" "$k=$got, wanted $v"; fi
  done
}
expect_delta() { # NAME COUNTER BEFORE WANT
  now=$(tls_stat "$2")
  if [ $((now - $3)) -eq "$4" ]; then
    ok "$1-$2" "/proc/net/tls_stat $2 +$4"
  else
    bad "$1-$2" "/proc/net/tls_stat $2 went $3 -> $now, wanted +$4"
  fi
}

if [ "$SNI_VM_MODE" = full ]; then
  cat /proc/net/tls_stat

  # TLS 1.2 on both legs: kTLS TX+RX on both, splice both ways, 64 MiB each way.
  tx=$(tls_stat TlsTxSw) rx=$(tls_stat TlsRxSw)
  transfer r12 t12.test "$SNI_VM_BYTES" 21 12 1.2 1.2 /tmp/b12.log
  ktls_ticks=$TICKS ktls_cs=$CS
  expect_line r12 client_version=TLSv1.2 backend_version=TLSv1.2 ktls_client_tx=true \
    ktls_client_rx=true ktls_backend_tx=true ktls_backend_rx=true splice_up=true splice_down=true
  expect_delta r12 TlsTxSw "$tx" 2
  expect_delta r12 TlsRxSw "$rx" 2
  echo "guest: kernel AES-GCM driver used by kTLS: $(grep -A2 '^name *: gcm(aes)$' /proc/crypto | sed -n 's/^driver *: //p' | head -n 1)"

  # The ClientHello in two segments (100 bytes, 300 ms, the rest): the kernel's verdict sees an
  # incomplete hello and defers it to the daemon (bpf_deferred, checked at the end); the bytes
  # after the handoff must all arrive, and kTLS + splice still engage.
  transfer s12 s12.test $small 23 32 1.2 1.2 /tmp/b32.log --split-hello 100
  expect_line s12 ktls_client_tx=true ktls_client_rx=true ktls_backend_tx=true \
    ktls_backend_rx=true splice_up=true splice_down=true

  # TLS 1.3 on both legs: kTLS TX only (OpenSSL 3.0 has no TLS 1.3 kTLS RX), no splice.
  tx=$(tls_stat TlsTxSw) rx=$(tls_stat TlsRxSw)
  transfer r13 t13.test $small 31 13 1.3 1.3 /tmp/b13.log
  expect_line r13 client_version=TLSv1.3 backend_version=TLSv1.3 ktls_client_tx=true \
    ktls_backend_tx=true ktls_client_rx=false ktls_backend_rx=false splice_up=false \
    splice_down=false
  expect_delta r13 TlsTxSw "$tx" 2
  expect_delta r13 TlsRxSw "$rx" 0

  # A TLS 1.0 backend: that leg stays in userspace crypto; the client leg (1.2) is kTLS.
  tx=$(tls_stat TlsTxSw) rx=$(tls_stat TlsRxSw)
  transfer r10 t10.test $small 1 10 1.2 1.2 /tmp/b10.log
  expect_line r10 backend_version=TLSv1 ktls_backend_tx=false ktls_backend_rx=false \
    ktls_client_tx=true ktls_client_rx=true splice_up=false splice_down=false
  expect_delta r10 TlsTxSw "$tx" 1
  expect_delta r10 TlsRxSw "$rx" 1
  [ "$(jfield "$LINE" ktls_backend_tx)" = false ] &&
    echo "guest: r10 backend leg TLSv1: userspace crypto (kTLS has no TLS 1.0), client leg kTLS"

  # Passthrough: the client's TLS goes to the backend untouched, moved by the kernel relay
  # (sockmap redirect) when the unprivileged worker may use the maps, else spliced (a kernel
  # that answers EPERM). Either way every byte arrives; the check says which one ran.
  transfer p12 p12.test $small 24 42 1.2 1.2 /tmp/bp12.log
  relay=$(jfield "$LINE" kernel_relay)
  if [ "$relay" = true ]; then
    ok p12-relay "kernel_relay=true: redirected by the sk_skb verdict on $(uname -r)"
  elif [ "$relay" = false ] && [ "$(jfield "$LINE" splice_up)" = true ] &&
    [ "$(jfield "$LINE" splice_down)" = true ]; then
    ok p12-relay "kernel_relay=false, spliced: $(grep -o 'kernel relay not permitted[^"]*"[^"]*"' /tmp/daemon.log | head -n 1)"
  else
    bad p12-relay "neither the kernel relay nor splice: $LINE"
  fi

  # The same TLS 1.2 transfer with the tls module gone: userspace crypto, no splice.
  echo /bin/false >/proc/sys/kernel/modprobe
  if rmmod tls && ! grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
    transfer r12u u12.test "$compare" 21 12 1.2 1.2 /tmp/b12u.log
    user_ticks=$TICKS user_cs=$CS
    expect_line r12u ktls_client_tx=false ktls_client_rx=false ktls_backend_tx=false \
      ktls_backend_rx=false splice_up=false splice_down=false
    kmib=$((SNI_VM_BYTES * 2 / 1048576)) umib=$((compare * 2 / 1048576))
    echo "VM-MEASURE worker CPU (utime+stime, 10 ms ticks), both directions relayed:" \
      "ktls_splice: ${kmib} MiB ${ktls_ticks} ticks ${ktls_cs} cs wall" \
      "cpu_ms_per_gib=$((ktls_ticks * 10 * 1024 / kmib));" \
      "userspace: ${umib} MiB ${user_ticks} ticks ${user_cs} cs wall" \
      "cpu_ms_per_gib=$((user_ticks * 10 * 1024 / umib))"
  else
    bad rmmod-tls "could not unload tls for the userspace comparison"
  fi
else
  # bpf-only: one ClientHello (no backend behind the route) must be decided in the kernel.
  sni-vm-peer client --port 8443 --sni t12.test --bytes 1 >/tmp/client.log 2>&1
fi

stamp "stopping sni-splitterd"
kill -TERM "$daemon"
wait_for_line /tmp/daemon.log 'msg="stopped"' 30
stopped=$(grep 'msg="stopped"' /tmp/daemon.log)
echo "guest: $stopped"
kd=$(field "$stopped" kernel_decisions)
if [ "${kd:-0}" -ge 1 ] && [ "$(field "$stopped" kernel_insert_failed)" = 0 ]; then
  ok kernel-decisions "the sk_skb verdict decided $kd connections (bpf_decisions=$(field "$stopped" bpf_decisions), bpf_deferred=$(field "$stopped" bpf_deferred))"
else
  bad kernel-decisions "kernel_decisions=${kd:-none}: $stopped"
fi
if [ "$SNI_VM_MODE" = full ]; then
  deferred=$(field "$stopped" bpf_deferred)
  if [ "${deferred:-0}" -ge 1 ] && [ "$(field "$stopped" bpf_handoff_loss)" = 0 ]; then
    ok verdict-only "split ClientHello deferred by the kernel and handed off intact (bpf_deferred=$deferred, bpf_handoff_loss=0)"
  else
    bad verdict-only "bpf_deferred=${deferred:-none} bpf_handoff_loss=$(field "$stopped" bpf_handoff_loss)"
  fi
fi
echo "----- sni-splitterd and sni-worker log"
cat /tmp/daemon.log
echo "----- end of log"
if [ $failed -eq 0 ]; then echo "VM-RESULT PASS"; else echo "VM-RESULT FAIL"; fi
exit $failed
