set terminal pngcairo size 1000,550
set output 'import.png'
set title 'Import of 564.1 MiB (4 tables): median wall time'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set ylabel 's'
set yrange [0:*]
set key outside right top
colors = '#7f7f7f #1f77b4 #aec7e8 #ff7f0e #ffbb78 #2ca02c #98df8a #d62728 #ff9896 #9467bd #c5b0d5 #8c564b #e377c2 #bcbd22 #17becf'
plot for [c=2:15] 'import.dat' using c:xtic(1) title columnheader(c) lc rgb word(colors, (c - 2) % words(colors) + 1)
