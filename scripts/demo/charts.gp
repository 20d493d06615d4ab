# scripts/demo/charts.gp: the demo's charts (gnuplot), from the data the demo
# parts leave in datadir; make demo runs
#   gnuplot -e "datadir='...'; outdir='docs'" scripts/demo/charts.gp
# Small PNGs (pngcairo, 720x400): they are committed as documentation.
set terminal pngcairo size 720,400 font 'sans,10' noenhanced
set grid lc rgb '#dddddd'
set key top right box opaque

# 1. Holders per node against the binomial expectation (50_directory.sql):
# N holders of the classes these nodes can take, each landing on a given
# node with probability p, over `nodes` alike nodes.
load datadir.'/holders_per_node.gp'
width = 5
bin(x) = width * floor(x / width) + width / 2.0
binom(k) = exp(lgamma(N + 1) - lgamma(k + 1) - lgamma(N - k + 1) + k * log(p) + (N - k) * log(1 - p))
set output outdir.'/holders_per_node.png'
set title sprintf('Holders per node: %d alike nodes (weight 1.0), 100,000 tokens', nodes)
set xlabel 'holders on the node'
set ylabel 'nodes'
set style fill solid 0.6 border -1
set boxwidth width * 0.9
set samples 400
mean = N * p
set xrange [mean - 5 * sqrt(mean) : mean + 5 * sqrt(mean)]
set yrange [0:*]
plot datadir.'/holders_per_node.dat' using (bin($1)):(1) smooth frequency with boxes lc rgb '#4e79a7' title 'nodes (demo)', \
     nodes * width * binom(floor(x)) with lines lw 2 lc rgb '#e15759' title sprintf('binomial(N = %d, p = %.2g)', N, p)

# 2. A repair's progress over time (50_directory.sql): moves left in the
# plan, replacements waiting for their new holder's confirmation, and the
# holders the failed node still has.
set output outdir.'/repair_progress.png'
set title 'Repair of a failed node, in batches of 50 moves, each confirmed a batch later'
set xlabel 'seconds since the repair started'
set ylabel 'holders'
unset xrange
set yrange [0:*]
set style data linespoints
plot datadir.'/repair_progress.dat' using 1:2 lw 2 pt 7 ps 0.5 lc rgb '#4e79a7' title 'moves left in dht.repair_plan()', \
     '' using 1:3 lw 2 pt 7 ps 0.5 lc rgb '#f28e2b' title 'pending (awaiting dht.confirm)', \
     '' using 1:4 lw 2 pt 7 ps 0.5 lc rgb '#e15759' title 'holders left on the failed node'

# 3. Anchor lag during concurrent writes (90_anchors.sh): bytes of each
# anchor's WAL its slowest peer has not confirmed.
set output outdir.'/anchor_lag.png'
set title 'Anchor lag while three anchors each allocate 2,000 tokens at once'
set xlabel 'seconds'
set ylabel 'KiB not yet confirmed by the slowest peer'
set style data lines
plot datadir.'/anchor_lag.dat' using 1:($2 / 1024) lw 2 lc rgb '#4e79a7' title 'amsterdam', \
     '' using 1:($3 / 1024) lw 2 lc rgb '#f28e2b' title 'boston', \
     '' using 1:($4 / 1024) lw 2 lc rgb '#59a14f' title 'chennai'
