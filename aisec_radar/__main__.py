from aisec_radar.cli import main

main()
