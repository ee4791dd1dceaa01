#!/bin/sh
# Downloads the data sets into data/ (or the folder given as $1), for people
# with internet; `make data` runs it. Never run by the tests: they find the
# data under $HE_DATA, ../shared/data or data/, and skip when it is absent.
#
#   data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#       the original MNIST files, from the first mirror that answers;
#       each checked against its published sha256.
#   data/imdb/labels.txt        udacity/deep-learning sentiment-network,
#                               checked against its sha256
#   data/imdb/reviews.txt.gz    the same repository's reviews.txt, checked
#                               against its git blob id, then gzip'd
#                               (-9 -n); the loader reads either form
#
# Files already there and intact are kept. Needs curl or wget, sha256sum
# (or shasum), sha1sum (or shasum) and gzip.
set -eu

dest=${1:-data}
umask 022

MNIST_MIRRORS="https://storage.googleapis.com/cvdf-datasets/mnist
https://ossci-datasets.s3.amazonaws.com/mnist
http://yann.lecun.com/exdb/mnist"
UDACITY=https://raw.githubusercontent.com/udacity/deep-learning/master/sentiment-network
# git blob id of the original reviews.txt (33,678,267 bytes)
REVIEWS_BLOB=4a344a165284d37e54096d985e0a0ffde94f33b0

say() { printf 'fetch-data: %s\n' "$*"; }
die() { printf 'fetch-data: %s\n' "$*" >&2; exit 1; }

if command -v curl >/dev/null 2>&1; then
    get() { curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    get() { wget -q --tries=3 --timeout=20 -O "$2" "$1"; }
else
    die "needs curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
    die "needs sha256sum or shasum"
fi
if command -v sha1sum >/dev/null 2>&1; then
    sha1() { sha1sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha1() { shasum -a 1 | cut -d' ' -f1; }
else
    die "needs sha1sum or shasum"
fi
command -v gzip >/dev/null 2>&1 || die "needs gzip"

# git's blob id of a file: sha1 of "blob <size>\0" and the bytes.
blob_id() {
    size=$(wc -c <"$1" | tr -d ' ')
    { printf 'blob %s\000' "$size"; cat "$1"; } | sha1
}

mkdir -p "$dest/mnist" "$dest/imdb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# fetch FILE SHA256 URL... : the first URL whose download has the right
# sha256 is moved to FILE.
fetch() {
    file=$1 sum=$2
    shift 2
    if [ -f "$file" ] && [ "$(sha256 "$file")" = "$sum" ]; then
        say "$file: present and intact"
        return 0
    fi
    for url in "$@"; do
        say "$file <- $url"
        if get "$url" "$tmp/part"; then
            got=$(sha256 "$tmp/part")
            if [ "$got" = "$sum" ]; then
                mv "$tmp/part" "$file"
                return 0
            fi
            say "  wrong sha256 $got (expected $sum); trying the next source"
        else
            say "  download failed; trying the next source"
        fi
        rm -f "$tmp/part"
    done
    die "$file: no source gave the expected file"
}

for f in \
    "train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609" \
    "train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c" \
    "t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6" \
    "t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"; do
    name=${f% *} sum=${f#* }
    urls=""
    for m in $MNIST_MIRRORS; do urls="$urls $m/$name"; done
    # shellcheck disable=SC2086 # the URLs hold no spaces
    fetch "$dest/mnist/$name" "$sum" $urls
done

fetch "$dest/imdb/labels.txt" 301d18424e95957a000293f5d8393239451d7f54622a8f21613172aebe64ca06 \
    "$UDACITY/labels.txt"

# reviews.txt: no published sha256; its git blob id identifies it. A
# reviews.txt.gz already there (for instance the reconstruction described in
# the shared data README) is kept as it is.
reviews=$dest/imdb/reviews.txt.gz
if [ -f "$reviews" ] && gzip -t "$reviews" 2>/dev/null; then
    say "$reviews: present (not replaced; delete it to download the original)"
elif [ -f "$dest/imdb/reviews.txt" ] && [ "$(blob_id "$dest/imdb/reviews.txt")" = "$REVIEWS_BLOB" ]; then
    say "$dest/imdb/reviews.txt: present and intact"
else
    say "$reviews <- $UDACITY/reviews.txt"
    get "$UDACITY/reviews.txt" "$tmp/reviews.txt" || die "reviews.txt: download failed"
    got=$(blob_id "$tmp/reviews.txt")
    [ "$got" = "$REVIEWS_BLOB" ] || die "reviews.txt: git blob id $got, expected $REVIEWS_BLOB"
    gzip -9 -n -c "$tmp/reviews.txt" >"$tmp/reviews.txt.gz"
    mv "$tmp/reviews.txt.gz" "$reviews"
fi
say "done: $dest"
