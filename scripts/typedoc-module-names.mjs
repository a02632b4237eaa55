// @ts-check
// A TypeDoc plugin: names each module of the reference as its package is
// imported (`@berth/core`, `@berth/core/adapter`) instead of by its path
// (`core/src`). The names come from the `moduleNames` option, which
// typedoc.config.mjs computes from the packages' manifests.
import { Converter, ParameterType, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.options.addDeclaration({
    name: 'moduleNames',
    help: 'Module path → the name a user imports',
    type: ParameterType.Mixed,
    defaultValue: {},
  });
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const names = /** @type {Record<string, string>} */ (app.options.getValue('moduleNames'));
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const name = names[module.name];
      if (name === undefined) {
        app.logger.warn(`No package name for the module ${module.name}`);
      } else {
        module.name = name;
      }
    }
  });
}
