set terminal pngcairo size 1300,550
set output 'remote.png'
set multiplot layout 1,2 title 'zvpg vs plain zfs send/receive: 1.9 GiB snapshot'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set key below
set title 'Whole transfer, median wall time'
set ylabel 's'
plot 'remote.dat' using 3:xtic(2) title 'zvpg (copy only: its runner)', '' using 4 title 'plain (shell redirect)', \
  '' using ($1-0.15):($3):(sprintf('x%.2f', $5)) with labels offset 0,1 notitle
set title 'Incremental push of a 1 % update: bytes'
set ylabel 'MiB'
plot 'remote_bytes.dat' using 3:xtic(2) title 'zvpg sends', '' using 4 title 'zfs send -i', '' using 5 title 'ZFS written', \
  '' using ($1-0.25):($3):(sprintf('x%.2f', $6)) with labels offset 0,1 notitle
unset multiplot
