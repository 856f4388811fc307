set terminal pngcairo size 1100,700 font 'DejaVu Sans,11'
set output 'bench/results/issue17-after/time_vs_size.png'
set title 'zvpg vs alternatives: time to a usable copy (median, bars min–max) — AMD EPYC, zfs-fuse'
set logscale xy
set xlabel 'database size (pg\_database\_size, log scale)'
set ylabel 'seconds (log scale)'
set xtics ('100MB' 112.2477, '1GB' 1024.5055, '5GB' 5106.8805)
set grid xtics ytics mytics
set key outside bottom center horizontal maxrows 3 noenhanced
set xrange [62.3598:9192.3850]
set format y '%g'
plot 'bench/results/issue17-after/time_vs_size.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'zvpg branch create → ready (CLI wall)', \
  'bench/results/issue17-after/time_vs_size.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'zvpg branch reset → ready (CLI wall, running branch)', \
  'bench/results/issue17-after/time_vs_size.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'physical floor of a reset (stop, rollback, start → ready; no CLI)', \
  'bench/results/issue17-after/time_vs_size.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'physical floor of a create (clone, start → ready; no CLI, no engine)', \
  'bench/results/issue17-after/time_vs_size.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'zvpg snapshot create (running main, CHECKPOINT incl.)', \
  'bench/results/issue17-after/time_vs_size.dat' index 5 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'CREATE DATABASE … TEMPLATE (same server)', \
  'bench/results/issue17-after/time_vs_size.dat' index 6 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'pg_dump -Fc + pg_restore (new database)', \
  'bench/results/issue17-after/time_vs_size.dat' index 7 using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cp -a PGDATA (stopped) + postgres start → ready'
