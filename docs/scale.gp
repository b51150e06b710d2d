# Draws docs/scale.svg from the scale ladder's results (bench/scale_ladder.sh):
#   gnuplot -e "data='docs/scale.tsv'" docs/scale.gp     # Debian package gnuplot-nox
# Columns of the TSV (header line first): rung, leaves, vertices, generate_s,
# geojson_parse_s, geojson_check_s, convert_s, convert_peak_mib, image_mib,
# open_s, open_peak_mib, second_pss_mib, second_private_mib, locate_1t_mps,
# locate_all_mps, circle2km_p50_us, updates_per_s.
# `before` is the ladder of 2026-11-27 (binary snapshot, index built at every
# open; its own columns): open 7, peak 8, locate 10, updates 13.
if (!exists("data")) data = 'docs/scale.tsv'
if (!exists("before")) before = 'docs/scale-before-image.tsv'
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
     before using 2:7 with linespoints lw 2 pt 4 dt 2 title 'before: snapshot, index built', \
     data using 2:10 with linespoints lw 2 pt 5 title 'engine image (mapped)'

set title 'Memory after opening (peak resident)'
set ylabel 'GiB'
plot before using 2:($8/1024) with linespoints lw 2 pt 4 dt 2 title 'before: snapshot', \
     data using 2:($11/1024) with linespoints lw 2 pt 7 title 'engine image', \
     data using 2:(($13 > 0 ? $13 : 1)/1024) with linespoints lw 2 pt 5 title 'a second server on it (private)'

set title 'Point location (same 1 M points in Jiangmen)'
set ylabel 'million points / s'
unset logscale y
set yrange [0:*]
plot before using 2:10 with linespoints lw 2 pt 4 dt 2 title 'before: 1 thread', \
     data using 2:14 with linespoints lw 2 pt 7 title '1 thread', \
     data using 2:15 with linespoints lw 2 pt 5 title 'all threads'

set title 'Metric updates, batches of 100'
set ylabel 'updates / s'
set logscale y
set yrange [*:*]
plot before using 2:13 with linespoints lw 2 pt 4 dt 2 title 'before', \
     data using 2:17 with linespoints lw 2 pt 7 title 'two-level metric tree'
unset multiplot
