#!/bin/bash
# totals.sh DIR: each customer's total over DIR/*.csv (customer,amount[,...] with a header)
dir=${1:-.}
awk -F, 'FNR > 1 { total[$1] += $2; all += $2 }
         END { for (c in total) printf "%s\t%.2f\n", c, total[c] | "sort"; close("sort");
               printf "TOTAL\t%.2f\n", all }' "$dir"/*.csv
