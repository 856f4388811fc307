set terminal pngcairo size 800,480
set output 'pitr.png'
set title 'branch create --at: time against the WAL replayed'
set xlabel 'minutes of writes between the snapshot and the target'
set ylabel 'seconds until the branch accepts connections'
set yrange [0:*]
set xrange [0:*]
set key top left
plot 'pitr.dat' using 1:3:(sprintf('%.0f MiB', $2)) with linespoints title '--at (replay)' , '' using 1:3:(sprintf('%.0f MiB', $2)) with labels offset 0,1 notitle, '' using 1:4 with lines dashtype 2 title '--from the snapshot'
