from envcapture.cli import main

raise SystemExit(main())
