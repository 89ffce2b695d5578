import TrainyardCLI

TrainyardCommand.main()
