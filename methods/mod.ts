/**
 * The inference methods (one module each: build function, settings type,
 * defaults, method type), the registry, `load(dir)` and `laplaceFromMap`.
 *
 * @module
 */
export { buildMap, MAP_DEFAULTS, type MapMethod, type MapSettings } from "./map.ts";
export {
  buildMcDropout,
  MC_DROPOUT_DEFAULTS,
  type McDropoutMethod,
  type McDropoutSettings,
} from "./mc_dropout.ts";
export {
  buildEnsemble,
  ENSEMBLE_DEFAULTS,
  type EnsembleBuildOptions,
  type EnsembleMethod,
  type EnsembleSettings,
  type ParallelFitOptions,
  trainEnsembleParallel,
} from "./ensemble.ts";
export {
  buildKfacLaplace,
  type GgnStats,
  KFAC_LAPLACE_DEFAULTS,
  KFAC_TAU_GRID,
  type KfacCurvatureSummary,
  type KfacLaplaceMethod,
  type KfacLaplaceSettings,
  type KfacTuneOptions,
  type KfacTuneResult,
  type KfacTuneRow,
  type KronFactors,
  type KronLayerFactors,
  laplaceFromMap,
  type LaplaceFromMapOptions,
  type PriorSettings,
} from "./kfac_laplace.ts";
export {
  BBB_DEFAULTS,
  BBB_ESTIMATORS,
  BBB_OPTIMIZERS,
  BBB_PRIORS,
  type BbbEstimator,
  type BbbGradient,
  type BbbMethod,
  bbbName,
  type BbbOptimizer,
  type BbbPosteriorSegment,
  type BbbPriorName,
  type BbbSettings,
  BbbSettingsError,
  buildBbb,
  resolveBbbSettings,
} from "./bbb.ts";
export {
  buildPsgld,
  buildSgld,
  type ChainSettings,
  PSGLD_DEFAULT_LR,
  type PsgldMethod,
  type SampleEntry,
  SampleFileError,
  type SampleLayout,
  SampleStore,
  type SampleStoreOptions,
  type ScheduleName,
  type ScheduleSettings,
  SGLD_DEFAULTS,
  type SgldSettings,
  type SgmcmcMethod,
  type WeightSample,
} from "./sgld.ts";
export {
  buildSghmc,
  SGHMC_DEFAULTS,
  type SghmcMethod,
  type SghmcSettings,
  type SghmcTensorState,
} from "./sghmc.ts";
export {
  buildFromManifest,
  load,
  loadModel,
  type MethodEntry,
  METHODS,
  selectMethods,
} from "./registry.ts";
