from searchengine.cli.app import main

main()
