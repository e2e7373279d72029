use super::*;

#[test]
fn presets_match_the_kernel_defaults_and_validate() {
    let paper = RegistrationParams::preset(Preset::Paper);
    assert_eq!(paper.syn.as_ref().map(|s| s.step), Some(0.1));
    assert_eq!(paper.syn, Some(SynParams::default()));
    assert!(paper.validate().is_ok());
    let fast = RegistrationParams::preset(Preset::Fast);
    assert_eq!(
        fast.syn.as_ref().map(|s| s.metric),
        Some(SynMetric::Cc { radius: 2 })
    );
    assert!(fast.validate().is_ok());
}

#[test]
fn a_schedule_with_too_few_levels_is_refused_at_validation() {
    let o = Overrides {
        iterations: Some("200x100".parse().unwrap_or(Levels(vec![]))),
        ..Overrides::default()
    };
    let e = RegistrationParams::preset(Preset::Paper)
        .with(&o)
        .validate()
        .err();
    assert_eq!(e.as_ref().map(|e| e.key), Some("iterations"));
    assert!(e.is_some_and(|e| e.message.contains("200x100 has 2 levels")));
}

#[test]
fn overrides_replace_only_what_they_name() {
    let o = Overrides {
        metric: Some(Metric::Cc),
        cc_radius: Some(4),
        ..Overrides::default()
    };
    let p = RegistrationParams::preset(Preset::Paper).with(&o);
    let syn = p.syn.clone().unwrap_or_default();
    assert_eq!(syn.metric, SynMetric::Cc { radius: 4 });
    assert_eq!(syn.step, 0.1);
    assert!(RegistrationParams::preset(Preset::Paper)
        .with(&Overrides {
            affine_only: true,
            ..Overrides::default()
        })
        .syn
        .is_none());
}

#[test]
fn levels_read_text_and_arrays_and_print_as_text() {
    #[derive(Deserialize)]
    struct T {
        a: Levels<usize>,
        b: Levels<usize>,
    }
    let t: Result<T, _> = toml::from_str("a = \"4x2x1\"\nb = [3, 2]");
    let t = t.ok();
    assert_eq!(t.as_ref().map(|t| t.a.0.clone()), Some(vec![4, 2, 1]));
    assert_eq!(t.map(|t| t.b.to_string()), Some("3x2".to_string()));
    assert!("4xtwo".parse::<Levels<usize>>().is_err());
}

#[test]
fn jlf_radii_are_bounded() {
    let p = JlfParams {
        patch_radius: 100,
        ..JlfParams::default()
    };
    assert_eq!(p.validate().err().map(|e| e.key), Some("patch_radius"));
    assert!(JlfParams::default().validate().is_ok());
    let wide = JlfParams {
        search_radius: 6,
        ..JlfParams::default()
    };
    assert!(wide.check_image([40, 48, 40]).is_ok());
    let e = wide.check_image([40, 6, 40]).err();
    assert_eq!(e.as_ref().map(|e| e.key), Some("search_radius"));
    assert!(e.is_some_and(|e| e.message.contains("shortest axis (6 voxels")));
}

#[test]
fn display_names_are_the_scenario_names() {
    let json = |v: serde_json::Result<String>| v.unwrap_or_default();
    for (shown, serde) in [
        (
            Preset::Paper.to_string(),
            json(serde_json::to_string(&Preset::Paper)),
        ),
        (
            Preset::Fast.to_string(),
            json(serde_json::to_string(&Preset::Fast)),
        ),
        (
            Metric::Mattes.to_string(),
            json(serde_json::to_string(&Metric::Mattes)),
        ),
        (
            Metric::Cc.to_string(),
            json(serde_json::to_string(&Metric::Cc)),
        ),
        (
            FusionMethod::Jlf.to_string(),
            json(serde_json::to_string(&FusionMethod::Jlf)),
        ),
        (
            FusionMethod::Majority.to_string(),
            json(serde_json::to_string(&FusionMethod::Majority)),
        ),
        (
            LabelInterpolation::Nearest.to_string(),
            json(serde_json::to_string(&LabelInterpolation::Nearest)),
        ),
        (
            LabelInterpolation::Linear.to_string(),
            json(serde_json::to_string(&LabelInterpolation::Linear)),
        ),
    ] {
        assert_eq!(format!("\"{shown}\""), serde);
    }
}
