from streamlet.cli import main

main()
