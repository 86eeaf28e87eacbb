from searchengine.cli.launch import main

main()
