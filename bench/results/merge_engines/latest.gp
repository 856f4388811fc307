set terminal pngcairo size 900,560 font 'DejaVu Sans,10'
set output 'latest.png'
set title "Three-way merge on the corpus (73 cases), judged by pg_dump — 2026-12-07, nproc 2, 23.5 GiB" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set ylabel 'corpus cases'
set yrange [0:*]
set key outside bottom center horizontal maxrows 2 noenhanced
set grid ytics
plot 'latest.dat' using 2:xtic(1) title 'proven', '' using 3 title 'refused: conflict', \
  '' using 4 title 'not proven', '' using 5 title 'script/plan failed', \
  '' using 6 title 'as expected (merged vs refused)', \
  '' using ($0-0.333):2:2 with labels offset 0,0.7 notitle, \
  '' using ($0+0.333):6:6 with labels offset 0,0.7 notitle
