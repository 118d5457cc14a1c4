# shellcheck shell=bash
# Everything a fresh machine needs before cargo can build fencescope, done by
# the project instead of by hand. Sourced by ./x; every step is idempotent and
# quick when already done, so every README command runs it.
#
# - the pinned Rust toolchain (rustup does not auto-install here), with
#   rust-src for -Z build-std and the musl targets for static binaries;
# - the Debian packages the test VM needs (QEMU, busybox, kmod, cpio, xz)
#   and the kernel build's (pahole, bc, flex, bison, libelf, OpenSSL);
# - bpf-linker, built against the toolchain's own libLLVM, in the cache.
#
# Kernel packages for the VM are fetched later, on demand, by `cargo xtask`.

TOOLCHAIN=1.98.0
BPF_LINKER_VERSION=0.13.0
FENCESCOPE_CACHE=${FENCESCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fencescope}
export FENCESCOPE_CACHE

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

setup_toolchain() {
    command -v rustup >/dev/null || die "rustup not found: install rustup, then run this again"
    local want=(rust-src rustfmt clippy) have
    have=$(rustup component list --toolchain "$TOOLCHAIN" --installed 2>/dev/null || true)
    local missing=0 c
    for c in "${want[@]}"; do grep -q "^$c" <<<"$have" || missing=1; done
    for c in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
        grep -q "^rust-std-$c" <<<"$have" || missing=1
    done
    [ "$missing" = 0 ] && return
    say "installing Rust $TOOLCHAIN"
    rustup toolchain install "$TOOLCHAIN" --profile minimal \
        --component rust-src,rustfmt,clippy \
        --target x86_64-unknown-linux-musl,aarch64-unknown-linux-musl >&2 \
        || die "rustup could not install $TOOLCHAIN"
}

# The machine's own Debian archive, read from its apt sources, so that no
# archive host is written down here.
apt_archive() {
    local f uri key
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '/^URIs:/{print $2; exit}' "$f")
        key=$(awk '/^Signed-By:/{print $2; exit}' "$f")
        [ -n "$uri" ] && { echo "$uri ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}"; return; }
    done
    uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] && { echo "$uri /usr/share/keyrings/debian-archive-keyring.gpg"; return; }
    die "no Debian archive found in the apt sources"
}

# The test VM's; make, gcc and the arm64 cross gcc for the kernel fixtures;
# pahole (dwarves), bc, flex, bison and the libelf and OpenSSL headers for
# the test kernel built from source (`cargo xtask kernel build`); tmux for
# `top` in a real terminal; Prometheus (and promtool) for the metrics
# endpoint's test; debootstrap for the compositors' root filesystem.
VM_PACKAGES=(qemu-system-x86 qemu-system-arm busybox-static kmod cpio xz-utils make gcc
    gcc-aarch64-linux-gnu dwarves bc flex bison libelf-dev libssl-dev tmux prometheus debootstrap)

setup_packages() {
    local missing=() p
    for p in "${VM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} = 0 ] && return
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root (apt-get install) or install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    if apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then return; fi
    # A machine whose qemu-utils came from backports cannot take the stable
    # QEMU beside it: take QEMU from the same backports suite, through private
    # apt lists so the machine's own sources stay as they are.
    local codename archive key dir
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    read -r archive key < <(apt_archive)
    dir="$FENCESCOPE_CACHE/apt/$codename-backports"
    mkdir -p "$dir/lists/partial"
    cat >"$dir/private.sources" <<SRC
Types: deb
URIs: $archive
Suites: $codename $codename-updates $codename-backports
Components: main
Signed-By: $key
SRC
    local o=(-o "Dir::Etc::sourcelist=$dir/private.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$dir/lists")
    say "retrying from $codename-backports"
    apt-get "${o[@]}" update -qq >&2 || die "apt-get update ($codename-backports) failed"
    apt-get "${o[@]}" install -y -qq --no-install-recommends -t "$codename-backports" "${missing[@]}" >&2 \
        || die "could not install ${missing[*]}"
}

setup_bpf_linker() {
    local root="$FENCESCOPE_CACHE/tools" llvm="$FENCESCOPE_CACHE/llvm-$TOOLCHAIN"
    if "$root/bin/bpf-linker" --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then return; fi
    local sysroot lib
    sysroot=$(rustc "+$TOOLCHAIN" --print sysroot) || die "rustc $TOOLCHAIN not found"
    lib=$(find "$sysroot/lib" -maxdepth 1 -name 'libLLVM.so.*' | head -n1)
    [ -n "$lib" ] || die "the toolchain ships no libLLVM.so: cannot build bpf-linker"
    mkdir -p "$llvm/lib"
    ln -sf "$lib" "$llvm/lib/libLLVM.so"
    ln -sf "$lib" "$llvm/lib/$(basename "$lib")"
    local major
    major=$(basename "$lib" | sed -E 's/^libLLVM\.so\.([0-9]+).*/\1/')
    say "building bpf-linker $BPF_LINKER_VERSION against the toolchain's LLVM $major"
    LLVM_PREFIX="$llvm" cargo "+$TOOLCHAIN" install "bpf-linker@$BPF_LINKER_VERSION" --locked \
        --no-default-features --features "llvm-$major" --root "$root" >&2 \
        || die "building bpf-linker failed"
    "$root/bin/bpf-linker" --version >/dev/null 2>&1 \
        || die "bpf-linker was built but does not run (libLLVM not found?)"
}

setup_all() {
    setup_toolchain
    setup_packages
    setup_bpf_linker
}
