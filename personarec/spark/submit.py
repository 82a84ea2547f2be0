"""Entry script for ``spark-submit``: runs the ``personarec`` command line inside the submitted application.

    spark-submit --master yarn --jars "$(python -m personarec.spark.jars)" \
        "$(python -c 'import personarec.spark.submit as m; print(m.__file__)')" \
        recommend --engine spark --model-dir DIR

``personarec.spark.session.spark_session`` sees it runs under spark-submit and takes the session as
submitted (master, jars, resources), instead of building one from ``[spark]``.
"""

from __future__ import annotations

import sys

from personarec.cli import main as cli_main


def main() -> None:
    cli_main(args=sys.argv[1:], prog_name="personarec")


if __name__ == "__main__":
    main()
