"""Docker-free local runner: serves template.yaml's routes by invoking the handlers in-process."""
