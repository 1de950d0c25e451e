"""Stack detection and Procfile parsing, on in-memory source trees."""

import pytest

from skyforge.adapters.builders.detect import (
    SourceTree,
    defines_app,
    detect,
    node_scripts,
    parse_procfile,
    python_requirements,
    python_web,
)
from skyforge.kernel.errors import StepFailed


def tree(**files: str) -> SourceTree:
    return SourceTree({name.replace("__", "."): text for name, text in files.items()})


FLASK_APP = "from flask import Flask\napp = Flask(__name__)\n"


def test_a_procfile_with_requirements_is_a_python_app_with_its_commands() -> None:
    found = detect(tree(Procfile="web: python app.py\n", requirements__txt=""))
    assert found.stack == "python"
    assert found.manifest == "requirements.txt"
    assert found.procfile == {"web": "python app.py"}


def test_requirements_txt_wins_over_pyproject() -> None:
    found = detect(tree(requirements__txt="flask", pyproject__toml="[project]\n"))
    assert found.manifest == "requirements.txt"


def test_a_pyproject_alone_is_a_python_app() -> None:
    assert detect(tree(pyproject__toml="[project]\nname='x'\n")).manifest == "pyproject.toml"


def test_python_is_detected_before_node() -> None:
    assert detect(tree(requirements__txt="", package__json="{}")).stack == "python"


def test_a_package_json_is_a_node_app() -> None:
    found = detect(tree(package__json='{"scripts": {"start": "node server.js"}}'))
    assert found.stack == "node"
    assert found.procfile is None


def test_an_index_html_alone_is_a_static_site() -> None:
    assert detect(tree(index__html="<h1>hi</h1>")).stack == "static"


def test_a_procfile_without_language_markers_is_used_as_it_is() -> None:
    found = detect(tree(Procfile="web: ./serve --port $PORT", index__html="<h1>hi</h1>"))
    assert found.stack == "procfile"
    assert found.procfile == {"web": "./serve --port $PORT"}


def test_an_empty_tree_is_not_an_app() -> None:
    with pytest.raises(StepFailed, match="no supported app detected"):
        detect(tree(README__md="# hi"))


def test_procfile_comments_and_blank_lines_are_ignored() -> None:
    text = "# processes\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n  \nworker:python w.py\n"
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "python w.py",
    }


def test_a_procfile_command_keeps_its_colons_and_quotes() -> None:
    text = "release: python -c \"print('release: done')\"\n"
    assert parse_procfile(text) == {"release": "python -c \"print('release: done')\""}


@pytest.mark.parametrize(
    "line", ["Web: python app.py", "web python app.py", "web:", "we b: x", "web.1: x"]
)
def test_a_malformed_procfile_line_fails_with_its_number(line: str) -> None:
    with pytest.raises(StepFailed, match="Procfile line 2"):
        parse_procfile(f"web: ok\n{line}\n")


def test_a_process_type_defined_twice_fails() -> None:
    with pytest.raises(StepFailed, match="defined twice"):
        parse_procfile("web: a\nweb: b\n")


def test_requirement_names_are_normalized_and_options_ignored() -> None:
    text = "# deps\n-r base.txt\n--index-url https://x\nGunicorn==23.0\nFlask_Login>=1\nuvicorn[standard]\n"
    assert python_requirements(tree(requirements__txt=text)) == {
        "gunicorn",
        "flask-login",
        "uvicorn",
    }


def test_requirements_are_read_from_pyproject_dependencies() -> None:
    text = '[project]\nname = "x"\ndependencies = ["uvicorn>=0.30", "fastapi"]\n'
    assert python_requirements(tree(pyproject__toml=text)) == {"uvicorn", "fastapi"}


def test_a_broken_pyproject_declares_nothing() -> None:
    assert python_requirements(tree(pyproject__toml="[project\n")) == set()


@pytest.mark.parametrize(
    "source",
    [
        FLASK_APP,
        "app: Flask = Flask(__name__)\n",
        "from .web import app\n",
        "import web as app\n",
        "async def app(scope, receive, send):\n    pass\n",
    ],
)
def test_a_module_that_binds_app_at_top_level_defines_it(source: str) -> None:
    assert defines_app(source)


@pytest.mark.parametrize(
    "source", ["application = 1\n", "def main():\n    app = 1\n", "# app = 1\n"]
)
def test_a_module_without_a_top_level_app_does_not_define_it(source: str) -> None:
    assert not defines_app(source)


def test_a_module_that_does_not_parse_is_checked_by_its_text() -> None:
    assert defines_app("application = 1\nprint 'py2'\n") is False
    assert defines_app("app = 1\nprint 'py2'\n")


def test_gunicorn_serves_the_module_that_defines_app() -> None:
    web = python_web(tree(requirements__txt="flask\ngunicorn\n", wsgi__py=FLASK_APP))
    assert web == "gunicorn --bind 0.0.0.0:$PORT wsgi:app"


def test_app_py_is_preferred_to_wsgi_py_and_main_py() -> None:
    files = tree(requirements__txt="gunicorn", app__py=FLASK_APP, main__py=FLASK_APP)
    assert python_web(files) == "gunicorn --bind 0.0.0.0:$PORT app:app"


def test_uvicorn_serves_an_asgi_app() -> None:
    files = tree(requirements__txt="fastapi\nuvicorn\n", main__py="app = FastAPI()\n")
    assert python_web(files) == "uvicorn main:app --host 0.0.0.0 --port $PORT"


def test_without_a_server_a_python_script_is_run() -> None:
    assert python_web(tree(requirements__txt="", main__py="print(1)\n")) == "python main.py"


def test_gunicorn_without_an_app_module_falls_back_to_the_script() -> None:
    assert python_web(tree(requirements__txt="gunicorn", app__py="x = 1\n")) == "python app.py"


def test_a_python_app_with_nothing_to_run_has_no_default_web() -> None:
    assert python_web(tree(requirements__txt="requests", worker__py="x = 1")) is None


def test_node_scripts_are_read_from_package_json() -> None:
    files = tree(package__json='{"scripts": {"start": "node server.js", "build": "tsc"}}')
    assert node_scripts(files) == {"start": "node server.js", "build": "tsc"}


def test_a_package_json_without_scripts_has_none() -> None:
    assert node_scripts(tree(package__json='{"name": "x"}')) == {}
    assert node_scripts(tree(package__json="[]")) == {}


def test_an_invalid_package_json_fails_clearly() -> None:
    with pytest.raises(StepFailed, match=r"package\.json is not valid JSON"):
        node_scripts(tree(package__json="{nope"))
