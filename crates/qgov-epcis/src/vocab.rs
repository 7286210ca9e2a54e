//! CBV 2.0 standard vocabularies and the rule "bare words only for standard values; custom
//! values must be URIs" (EPCIS 2.0 §7.4.3 / §9.2, CBV 2.0 §7 and §8).

use crate::ident::check_uri;

/// Which standard vocabulary a field draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// CBV 2.0 §7.1 business steps.
    BizStep,
    /// CBV 2.0 §7.2 dispositions.
    Disposition,
    /// CBV 2.0 §7.3 business transaction types.
    BizTransactionType,
    /// CBV 2.0 §7.4 source/destination types.
    SourceDestType,
    /// CBV 2.0 §7.5 error reasons.
    ErrorReason,
    /// EPCIS 2.0 §7.3.9 / GS1 Web Vocabulary measurement types.
    MeasurementType,
    /// EPCIS 2.0 §7.3.9 sensor alert types.
    SensorAlert,
    /// CBV 2.0 §7.6 sensor-value components.
    Component,
}

const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
    "sensor_reporting",
    "sampling",
];
const DISPOSITIONS: &[&str] = &[
    "active",
    "container_closed",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "no_pedigree_match",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unknown",
    "available",
    "completeness_verified",
    "completeness_inferred",
    "conformant",
    "container_open",
    "mismatch_instance",
    "mismatch_class",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "unavailable",
];
const BTT: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];
const SDT: &[&str] = &["owning_party", "possessing_party", "location"];
const ER: &[&str] = &["did_not_occur", "incorrect_data"];
const MEASUREMENTS: &[&str] = &[
    "AbsoluteHumidity",
    "AbsorbedDose",
    "AbsorbedDoseRate",
    "Acceleration",
    "Radioactivity",
    "Altitude",
    "AmountOfSubstance",
    "AmountOfSubstancePerUnitVolume",
    "Angle",
    "AngularAcceleration",
    "AngularMomentum",
    "AngularVelocity",
    "Area",
    "Capacitance",
    "Conductance",
    "Conductivity",
    "Count",
    "Density",
    "Dimensionless",
    "DoseEquivalent",
    "DoseEquivalentRate",
    "DynamicViscosity",
    "ElectricCharge",
    "ElectricCurrent",
    "ElectricCurrentDensity",
    "ElectricFieldStrength",
    "Energy",
    "Exposure",
    "Force",
    "Frequency",
    "Illuminance",
    "Inductance",
    "Irradiance",
    "KinematicViscosity",
    "Length",
    "LinearMomentum",
    "Luminance",
    "LuminousFlux",
    "LuminousIntensity",
    "MagneticFlux",
    "MagneticFluxDensity",
    "MagneticVectorPotential",
    "Mass",
    "MassConcentration",
    "MassFlowRate",
    "MassPerAreaTime",
    "MemoryCapacity",
    "MolalityOfSolute",
    "MolarEnergy",
    "MolarMass",
    "MolarVolume",
    "Power",
    "Pressure",
    "RadiantFlux",
    "RadiantIntensity",
    "RelativeHumidity",
    "Resistance",
    "Resistivity",
    "SolidAngle",
    "SpecificVolume",
    "Speed",
    "SurfaceDensity",
    "SurfaceTension",
    "Temperature",
    "Time",
    "Torque",
    "Voltage",
    "Volume",
    "VolumeFlowRate",
    "VolumeFraction",
    "VolumetricFlux",
    "Wavenumber",
];
const ALERTS: &[&str] = &["ALARM_CONDITION", "ERROR_CONDITION"];
const COMPONENTS: &[&str] = &[
    "x",
    "y",
    "z",
    "axial_distance",
    "azimuth",
    "height",
    "spherical_radius",
    "polar_angle",
    "elevation_angle",
    "easting",
    "northing",
    "latitude",
    "longitude",
    "altitude",
];

const GS1_VOC: &str = "https://gs1.org/voc/";
const CBV_WEB: &str = "https://ref.gs1.org/cbv/";

impl VocabKind {
    fn words(self) -> &'static [&'static str] {
        match self {
            Self::BizStep => BIZ_STEPS,
            Self::Disposition => DISPOSITIONS,
            Self::BizTransactionType => BTT,
            Self::SourceDestType => SDT,
            Self::ErrorReason => ER,
            Self::MeasurementType => MEASUREMENTS,
            Self::SensorAlert => ALERTS,
            Self::Component => COMPONENTS,
        }
    }

    /// The CBV 1.x URN prefix used by the XML binding (CBV 2.0 §6.2), if this vocabulary has one.
    fn urn_prefix(self) -> Option<&'static str> {
        match self {
            Self::BizStep => Some("urn:epcglobal:cbv:bizstep:"),
            Self::Disposition => Some("urn:epcglobal:cbv:disp:"),
            Self::BizTransactionType => Some("urn:epcglobal:cbv:btt:"),
            Self::SourceDestType => Some("urn:epcglobal:cbv:sdt:"),
            Self::ErrorReason => Some("urn:epcglobal:cbv:er:"),
            _ => None,
        }
    }

    /// The term prefix inside the CBV web vocabulary (`https://ref.gs1.org/cbv/BizStep-…`).
    fn web_term(self) -> &'static str {
        match self {
            Self::BizStep => "BizStep-",
            Self::Disposition => "Disp-",
            Self::BizTransactionType => "BTT-",
            Self::SourceDestType => "SDT-",
            Self::ErrorReason => "ER-",
            Self::Component => "Comp-",
            Self::MeasurementType | Self::SensorAlert => "",
        }
    }

    fn in_gs1_voc(self) -> bool {
        matches!(self, Self::MeasurementType | Self::SensorAlert)
    }

    /// A human name for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::BizStep => "bizStep",
            Self::Disposition => "disposition",
            Self::BizTransactionType => "bizTransaction type",
            Self::SourceDestType => "source/destination type",
            Self::ErrorReason => "error reason",
            Self::MeasurementType => "sensor measurement type",
            Self::SensorAlert => "sensor alert type",
            Self::Component => "component",
        }
    }

    fn standard(self, word: &str) -> Option<&'static str> {
        self.words().iter().copied().find(|w| *w == word)
    }

    /// Parses a value in any accepted spelling (bare word, CBV URN, web URI, CURIE) into its
    /// stored form: the bare word for a standard value, the URI for a custom one.
    pub fn parse(self, raw: &str) -> Result<String, String> {
        let s = raw.trim();
        if let Some(w) = self.standard(s) {
            return Ok(w.to_string());
        }
        let term = self.web_term();
        let mut candidates: Vec<&str> = Vec::with_capacity(4);
        if let Some(p) = self.urn_prefix()
            && let Some(rest) = s.strip_prefix(p)
        {
            candidates.push(rest);
            // CBV 2.0 §6.2: the urn:epcglobal:cbv namespace is reserved for standard values.
            if self.standard(rest).is_none() {
                return Err(format!("`{s}` is in the CBV namespace but is not a standard {}", self.name()));
            }
        }
        for base in [CBV_WEB, "http://ref.gs1.org/cbv/", "cbv:", "https://gs1.org/voc/", "gs1:"] {
            if let Some(rest) = s.strip_prefix(base).and_then(|r| r.strip_prefix(term)) {
                candidates.push(rest);
            }
        }
        for c in candidates {
            if let Some(w) = self.standard(c) {
                return Ok(w.to_string());
            }
        }
        if !s.contains(':') {
            return Err(format!(
                "`{s}` is not a standard {}: bare words are only allowed for standard CBV values, custom values must be URIs",
                self.name()
            ));
        }
        check_uri(s).map_err(|e| e.0)?;
        Ok(s.to_string())
    }

    /// The spelling used by the XML binding: CBV URNs, `gs1:` CURIEs for the web vocabulary,
    /// `cbv:Comp-` for components; custom values unchanged.
    pub fn to_xml(self, stored: &str) -> String {
        if self.standard(stored).is_none() {
            return stored.to_string();
        }
        match self.urn_prefix() {
            Some(p) => format!("{p}{stored}"),
            None if self.in_gs1_voc() => format!("gs1:{stored}"),
            None => format!("cbv:{}{stored}", self.web_term()),
        }
    }

    /// The full web-vocabulary URI used by the event hash (CBV 2.0 §8.9.3 step 5).
    pub fn to_web_uri(self, stored: &str) -> String {
        if self.standard(stored).is_none() {
            if self.in_gs1_voc()
                && let Some(rest) = stored.strip_prefix("gs1:")
            {
                return format!("{GS1_VOC}{rest}");
            }
            return stored.to_string();
        }
        if self.in_gs1_voc() { format!("{GS1_VOC}{stored}") } else { format!("{CBV_WEB}{}{stored}", self.web_term()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_standard_value_becomes_the_bare_word() {
        for s in [
            "shipping",
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
            "cbv:BizStep-shipping",
        ] {
            assert_eq!(VocabKind::BizStep.parse(s).unwrap(), "shipping");
        }
        assert_eq!(VocabKind::MeasurementType.parse("gs1:Temperature").unwrap(), "Temperature");
        assert_eq!(VocabKind::Component.parse("cbv:Comp-easting").unwrap(), "easting");
    }

    #[test]
    fn bare_custom_words_and_fake_cbv_urns_are_refused() {
        assert!(VocabKind::BizStep.parse("exampling").is_err());
        assert!(VocabKind::BizStep.parse("urn:epcglobal:cbv:bizstep:exampling").is_err());
        assert!(VocabKind::Disposition.parse("broken").is_err());
        assert_eq!(
            VocabKind::BizStep.parse("http://epcis.example.com/user/vocab/bizstep/exampling").unwrap(),
            "http://epcis.example.com/user/vocab/bizstep/exampling"
        );
    }

    #[test]
    fn hash_and_xml_spellings() {
        assert_eq!(VocabKind::BizStep.to_web_uri("departing"), "https://ref.gs1.org/cbv/BizStep-departing");
        assert_eq!(VocabKind::MeasurementType.to_web_uri("gs1:MT-Speed"), "https://gs1.org/voc/MT-Speed");
        assert_eq!(VocabKind::Disposition.to_xml("in_transit"), "urn:epcglobal:cbv:disp:in_transit");
    }
}
