"""`python -m devstack`: bring the whole local stack up in the foreground (devstack/stack.py supervises it)."""

from devstack.stack import main

if __name__ == "__main__":
    main()
