# Prints the results file of the interop tests (tab-separated: proxy,
# scenario, result, ferry, curl, note) as an aligned table, groups in the
# order given by -v order="a|b|c" and rows in file order within a group.
# The last line is the count: "interop: N passed, N failed, N skipped"
# ("known" rows, known issues that do not fail the run, count as skipped).
BEGIN {
    FS = "\t"
    n = split(order, names, "|")
    for (i = 1; i <= n; i++) rank[names[i]] = i
    split("proxy|scenario|result|ferry|curl|note", head, "|")
    for (c = 1; c <= 6; c++) width[c] = length(head[c])
}
NF >= 3 {
    rows++
    r = ($1 in rank) ? rank[$1] : 1000
    key[rows] = sprintf("%04d %06d", r, rows)
    for (c = 1; c <= 6; c++) {
        cell[rows, c] = $c
        if (c < 6 && length($c) > width[c]) width[c] = length($c)
    }
    if ($3 == "pass") passed++
    else if ($3 == "known" || $3 == "pending") skipped++
    else failed++
}
function line(a1, a2, a3, a4, a5, a6) {
    printf "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", width[1], a1, width[2], a2, width[3], a3, width[4], a4, width[5], a5, a6
}
END {
    # Sort the row numbers by key (insertion sort: a few dozen rows).
    for (i = 1; i <= rows; i++) idx[i] = i
    for (i = 2; i <= rows; i++) {
        v = idx[i]; j = i - 1
        while (j >= 1 && key[idx[j]] > key[v]) { idx[j + 1] = idx[j]; j-- }
        idx[j + 1] = v
    }
    line(head[1], head[2], head[3], head[4], head[5], head[6])
    sep = ""
    for (c = 1; c <= 5; c++) { s = sprintf("%*s", width[c], ""); gsub(/ /, "-", s); sep = sep s "  " }
    print sep "----"
    prev = ""
    for (i = 1; i <= rows; i++) {
        k = idx[i]
        proxy = (cell[k, 1] == prev) ? "" : cell[k, 1]
        prev = cell[k, 1]
        line(proxy, cell[k, 2], cell[k, 3], cell[k, 4], cell[k, 5], cell[k, 6])
    }
    printf "interop: %d passed, %d failed, %d skipped\n", passed, failed, skipped
}
