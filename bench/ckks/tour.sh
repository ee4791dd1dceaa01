#!/bin/bash
# The CKKS tour (scripts/ckks_tour.he): the plan's predicted error beside the
# error measured on the decrypted result, for the degree-3 polynomial (rms
# over its 16 slots) and the rotation sum (one value: anywhere from 0.1 to 3
# times the rms prediction, its key-switching error being one draw per key).
HE=${HE:-build/he}
[ -x "$HE" ] || { echo "bench ckks tour: $HE not built" >&2; exit 1; }
out=$("$HE" scripts/ckks_tour.he 2>&1) || { echo "# ckks_tour.he failed"; echo "$out" | tail -3; exit 1; }
pm=$(echo "$out" | sed -n 's/^rms error of the polynomial: \([^ ]*\) (predicted \([^ ]*\) )/\1/p')
pp=$(echo "$out" | sed -n 's/^rms error of the polynomial: \([^ ]*\) (predicted \([^ ]*\) )/\2/p')
sm=$(echo "$out" | sed -n 's/^error of the rotation sum: *\([^ ]*\) (predicted rms \([^ ]*\) ;.*/\1/p')
sp=$(echo "$out" | sed -n 's/^error of the rotation sum: *\([^ ]*\) (predicted rms \([^ ]*\) ;.*/\2/p')
echo "# $(echo "$out" | sed -n 's/^<ckks plan of <fn tour>: //p')"
echo "bench tour.ckks.poly.err_predicted $pp (rms over 16 slots)"
echo "bench tour.ckks.poly.err_measured $pm"
awk -v m="$pm" -v p="$pp" 'BEGIN { printf "bench tour.ckks.poly.err.ratio %.2f x (measured / predicted)\n", m / p }'
echo "bench tour.ckks.sum.err_predicted $sp (rms)"
echo "bench tour.ckks.sum.err_measured $sm (one value)"
awk -v m="$sm" -v p="$sp" 'BEGIN { printf "bench tour.ckks.sum.err.ratio %.2f x (measured / predicted)\n", m / p }'
