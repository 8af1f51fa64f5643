from syncwright.cli.app import main

main()
