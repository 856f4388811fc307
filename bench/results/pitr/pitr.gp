set terminal pngcairo size 900,500
set output 'pitr.png'
set title 'branch create: --at (replay) vs --from (snapshot)'
set xlabel 'WAL between the base snapshot and the target (MB)'
set ylabel 'wall time of branch create (ms)'
set key top left
set grid
plot 'pitr.dat' using 1:2 with linespoints title '--at <time>', \
     'pitr.dat' using 1:3 with linespoints title '--from <snapshot>'
