from privacy.cli import main

raise SystemExit(main())
