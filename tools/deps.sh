#!/bin/sh
# Installs the Debian packages he needs (as root), or prints the exact
# apt-get line to run. Quiet when everything is there.
#   flex, bison          the front end (grammar/lexer.l, grammar/parser.y)
#   libgmp-dev           big integers: Integer Vector HE, Paillier, Z_p shares
#   libsodium-dev        randomness, constant-time helpers, wiping secrets
#   zlib1g-dev           reading the gzip'd MNIST and IMDB files
#   libzmq3-dev          parties as separate processes (CURVE-encrypted TCP)
#   libreadline-dev      line editing and history in the REPL
#   liblua5.4-dev lua5.4 the Lua module, its tests, and the Lua side of bench/vm
#   pkg-config make gcc  the build itself
#   mandoc               the man page's lint in make check (tests/cli/manpage.sh)
#   libprotobuf-c-dev    reading ONNX models (protobuf) in runtime/model/
#   protobuf-c-compiler  protoc-c: the ONNX schema to C at build time
#   libonnx-dev          the ONNX schema itself (/usr/include/onnx/onnx.proto)
#   libhdf5-dev          reading Keras HDF5 models (runtime/model/keras.c)
#   libjansson-dev       the JSON architecture in a Keras file
#   python3-h5py python3-numpy  the tests' Keras-layout files and numpy references
#   libopenmpi-dev       `import mpi`: batch inference over several processes
#   openmpi-bin          mpirun (and its test, tests/cli/mpi.sh)
PKGS="build-essential pkg-config flex bison libgmp-dev libsodium-dev zlib1g-dev libzmq3-dev libreadline-dev liblua5.4-dev lua5.4 mandoc libprotobuf-c-dev protobuf-c-compiler libonnx-dev libhdf5-dev libjansson-dev python3-h5py python3-numpy libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "he: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
        echo "he: apt-get failed; run: apt-get install -y$missing" >&2
        exit 1
    }
else
    echo "he: missing Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
