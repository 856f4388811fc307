set terminal pngcairo size 900,500
set output 'scale.png'
set title 'CLI wall time, median: 5 snapshots + 2 branches vs 500 snapshots + 100 branches'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'ms'
set yrange [0:*]
set key top left
plot 'scale.dat' using 3:xtic(2) title 'small pool', '' using 4 title 'large pool', \
  '' using ($1+0.15):($4):(sprintf('x%.2f', $5)) with labels offset 0,1 notitle
