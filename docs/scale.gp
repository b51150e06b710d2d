# Draws docs/scale.svg from the scale ladder's results (bench/scale_ladder.sh):
#   gnuplot -e "data='docs/scale.tsv'" docs/scale.gp     # Debian package gnuplot-nox
# Columns of the TSV (header line first): rung, leaves, vertices, generate_s,
# geojson_parse_s, geojson_check_s, snapshot_open_s, open_peak_mib,
# open_nothp_s, locate_1t_mps, locate_all_mps, circle2km_p50_us, updates_per_s.
if (!exists("data")) data = 'docs/scale.tsv'
if (!exists("out")) out = 'docs/scale.svg'
set terminal svg size 1000,720 dynamic enhanced font 'sans,11' background rgb 'white'
set output out
set datafile separator "\t"
set key autotitle columnhead
set key top left box opaque
set logscale xy
set xlabel 'leaves'
set grid
set format x '10^{%L}'
set xrange [5000:10000000]
set multiplot layout 2,2 title 'gridtree: cost as the dataset grows (Jiangmen, Guangdong, national-size)'

set title 'Opening a dataset'
set ylabel 'seconds'
plot data using 2:($5+$6) with linespoints lw 2 pt 7 title 'GeoJSON: parse + checks', \
     data using 2:7 with linespoints lw 2 pt 5 title 'binary snapshot (index built)', \
     data using 2:9 with linespoints lw 2 pt 4 dt 2 title 'snapshot, without huge pages'

set title 'Memory after opening a snapshot (peak)'
set ylabel 'GiB'
plot data using 2:($8/1024) with linespoints lw 2 pt 7 title 'peak resident memory'

set title 'Point location (same 1 M points in Jiangmen)'
set ylabel 'million points / s'
unset logscale y
set yrange [0:*]
plot data using 2:10 with linespoints lw 2 pt 7 title '1 thread', \
     data using 2:11 with linespoints lw 2 pt 5 title 'all threads'

set title '2 km circle, area-weighted (p50)'
set ylabel 'microseconds'
plot data using 2:12 with linespoints lw 2 pt 7 title 'p50 latency'
unset multiplot
