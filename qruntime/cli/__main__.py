from qruntime.cli import main

main()
