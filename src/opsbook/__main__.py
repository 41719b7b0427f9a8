from opsbook.cli import main

main()
